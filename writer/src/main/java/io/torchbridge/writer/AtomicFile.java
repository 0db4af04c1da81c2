package io.torchbridge.writer;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The crash-safe write every writer here uses: the file is written beside the target under a
 * temporary name, flushed to disk, and renamed over the target; a failure, exception or killed
 * process leaves the previous file intact and never a partial one at the target path.
 */
final class AtomicFile {
    private AtomicFile() {
    }

    /** Writes the file's bytes to a fresh channel at position 0. */
    @FunctionalInterface
    interface Body {
        void writeTo(FileChannel ch) throws IOException;
    }

    /** Writes {@code target} through {@code body}; with {@code fsync}, file and folder are forced to disk. */
    static void write(Path target, boolean fsync, Body body) throws IOException {
        Path abs = resolve(target);
        Path dir = abs.getParent();
        Path tmp = createTemp(dir, abs);
        boolean done = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                body.writeTo(ch);
                if (fsync) {
                    ch.force(true);
                }
            }
            // The commit point: a rename within one folder is atomic. There is deliberately no
            // non-atomic fallback, which would delete the old file before the new one is in place.
            Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            done = true;
            if (fsync) {
                syncDirectory(dir);
            }
        } catch (IOException | RuntimeException | Error e) {
            if (!done) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException cleanup) {
                    e.addSuppressed(cleanup);
                }
            }
            throw e;
        }
    }

    /** The path written: through a symbolic link, as torch.save writes, beside the real file. */
    static Path resolve(Path target) throws IOException {
        Path abs = target.toAbsolutePath();
        return Files.isSymbolicLink(abs) ? abs.toRealPath() : abs;
    }

    /**
     * An empty temporary file beside {@code target}, named after it (shortened so that the name
     * stays within the 255 bytes file systems allow), with the target's permissions when it exists
     * so that replacing a private file does not expose it.
     */
    private static Path createTemp(Path dir, Path target) throws IOException {
        String name = target.getFileName().toString();
        while (name.getBytes(StandardCharsets.UTF_8).length > 255 - 22) {
            name = name.substring(0, name.length() - 1);
        }
        FileAttribute<?>[] attrs = {};
        if (Files.exists(target) && target.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            attrs = new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(Files.getPosixFilePermissions(target))};
        }
        for (int attempt = 0; ; attempt++) {
            Path tmp = dir.resolve("." + name + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
            try {
                FileChannel.open(tmp, java.util.Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), attrs)
                        .close();
                if (attrs.length > 0) {
                    // the umask may have narrowed the mode given at creation
                    Files.setPosixFilePermissions(tmp, Files.getPosixFilePermissions(target));
                }
                return tmp;
            } catch (FileAlreadyExistsException e) {
                if (attempt > 100) {
                    throw e;
                }
            } catch (NoSuchFileException | AccessDeniedException e) {
                // The temporary name means nothing to the caller: name the file they asked for.
                String reason = e instanceof NoSuchFileException ? "its folder " + dir + " does not exist"
                        : "no permission to create a file in " + dir;
                FileSystemException named = e instanceof NoSuchFileException
                        ? new NoSuchFileException(target.toString(), null, reason)
                        : new AccessDeniedException(target.toString(), null, reason);
                named.initCause(e);
                throw named;
            }
        }
    }

    /** Makes the rename durable: on Linux a directory can be opened and forced. */
    static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // Some platforms cannot open directories; the file itself is already on disk.
        }
    }
}
