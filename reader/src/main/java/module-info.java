/**
 * TorchBridge reader: pure-Java, zero-copy reading of PyTorch checkpoints. Only the API packages
 * (the reader, and the scanner beside it) are exported; the internal packages are open to the
 * writer alone, and the data package also to native, which maps a record copy-on-write itself.
 */
module io.torchbridge.reader {
    requires pickle; // net.razorvine:pickle has no Automatic-Module-Name; the name comes from its jar
    requires org.apache.commons.compress;
    requires jdk.unsupported; // sun.misc.Unsafe.invokeCleaner: the only way Java 17 unmaps on close (MappedFile)

    exports io.torchbridge.reader;
    exports io.torchbridge.reader.scan;
    exports io.torchbridge.reader.diff;
    exports io.torchbridge.reader.internal to io.torchbridge.writer;
    exports io.torchbridge.reader.internal.data to io.torchbridge.writer, io.torchbridge.libtorch;
    exports io.torchbridge.reader.internal.pickle to io.torchbridge.writer;
}
