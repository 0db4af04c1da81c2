/** TorchBridge writer: checkpoints that torch.load(weights_only=True) accepts, written from Java. */
module io.torchbridge.writer {
    requires transitive io.torchbridge.reader;

    exports io.torchbridge.writer;
}
