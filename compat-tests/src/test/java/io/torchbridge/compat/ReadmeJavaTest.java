package io.torchbridge.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.torchbridge.testing.Repo;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every {@code ```java} block of README.md is a complete program that compiles against the jars
 * this build made (the README's rule, stated above its examples; fragments are {@code ```text}),
 * so the examples cannot rot: a renamed method or a missing import fails the build.
 */
class ReadmeJavaTest {
    private static final Pattern BLOCK = Pattern.compile("(?m)^```java\\n(.*?)^```$", Pattern.DOTALL);
    private static final Pattern CLASS = Pattern.compile("(?m)^(?:public )?(?:final )?(?:class|record|interface) (\\w+)");

    @TempDir
    Path tmp;

    @TestFactory
    Stream<DynamicTest> everyJavaBlockCompiles() throws Exception {
        String readme = Files.readString(Repo.root().resolve("README.md"), StandardCharsets.UTF_8);
        List<String> blocks = new ArrayList<>();
        Matcher m = BLOCK.matcher(readme);
        while (m.find()) {
            blocks.add(m.group(1));
        }
        assertFalse(blocks.isEmpty(), "README.md has java blocks");
        return blocks.stream().map(code -> {
            int line = lineOf(readme, code);
            return DynamicTest.dynamicTest("README.md line " + line, () -> compile(code, line));
        });
    }

    private void compile(String code, int line) throws Exception {
        Matcher c = CLASS.matcher(code);
        assertTrue(c.find(), "README.md line " + line + ": a java block is a whole program (imports, a class, "
                + "main); use ```text for a fragment");
        Path dir = Files.createDirectories(tmp.resolve("line" + line));
        Path src = Files.writeString(dir.resolve(c.group(1) + ".java"), code, StandardCharsets.UTF_8);
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        StringWriter diagnostics = new StringWriter();
        try (StandardJavaFileManager files = javac.getStandardFileManager(null, null, StandardCharsets.UTF_8)) {
            boolean ok = javac.getTask(diagnostics, files, null,
                    List.of("--release", "17", "-proc:none", "-d", dir.toString(), "-classpath", classPath()),
                    null, files.getJavaFileObjects(src)).call();
            assertTrue(ok, "README.md line " + line + " does not compile:\n" + diagnostics);
        }
        assertEquals("", diagnostics.toString().strip(), "README.md line " + line + ": warnings");
    }

    /** The test class path: every module of this build (surefire names it apart from its own booter jar). */
    private static String classPath() {
        String cp = System.getProperty("surefire.test.class.path");
        return cp != null ? cp : System.getProperty("java.class.path");
    }

    private static int lineOf(String text, String block) {
        int at = text.indexOf(block);
        return (int) text.substring(0, at).chars().filter(ch -> ch == '\n').count() + 1;
    }
}
