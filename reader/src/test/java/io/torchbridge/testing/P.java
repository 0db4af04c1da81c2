package io.torchbridge.testing;

import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The tests' one pickle assembler: each method appends one opcode and its operand, as listed in
 * CPython's Lib/pickletools.py. Independent of the reader, so tests state the bytes they mean.
 */
public final class P {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    private P() {
    }

    public static P proto(int n) {
        P p = new P();
        return p.op(0x80).raw(n);
    }

    public static P raw() {
        return new P();
    }

    public P op(int code) {
        out.write(code);
        return this;
    }

    public P op(char code) {
        return op((int) code);
    }

    public P raw(int... bytes) {
        for (int b : bytes) {
            out.write(b);
        }
        return this;
    }

    public P raw(byte[] bytes) {
        out.writeBytes(bytes);
        return this;
    }

    public P le(long v, int n) {
        for (int i = 0; i < n; i++) {
            out.write((int) (v >>> (8 * i)));
        }
        return this;
    }

    public P line(String s) {
        return raw(s.getBytes(StandardCharsets.UTF_8)).raw('\n');
    }

    /** BININT1 / BININT2 / BININT / LONG1, the smallest that fits, as CPython's pickler picks. */
    public P integer(long v) {
        if (v >= 0 && v < 256) {
            return op('K').raw((int) v);
        } else if (v >= 0 && v < 65536) {
            return op('M').le(v, 2);
        } else if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
            return op('J').le(v, 4);
        }
        return long1(BigInteger.valueOf(v));
    }

    /** LONG1: n, then n bytes of little-endian two's complement. */
    public P long1(BigInteger v) {
        byte[] be = v.toByteArray();
        op(0x8a).raw(be.length);
        for (int i = be.length - 1; i >= 0; i--) {
            out.write(be[i]);
        }
        return this;
    }

    /** BINUNICODE: u32 length, UTF-8 bytes. */
    public P str(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return op('X').le(b.length, 4).raw(b);
    }

    /** BINFLOAT: a big-endian double. */
    public P flt(double d) {
        return op('G').raw(ByteBuffer.allocate(8).order(ByteOrder.BIG_ENDIAN).putDouble(d).array());
    }

    public P global(String module, String name) {
        return op('c').line(module).line(name);
    }

    public P mark() {
        return op('(');
    }

    public P tuple() {
        return op('t');
    }

    public P none() {
        return op('N');
    }

    public P emptyDict() {
        return op('}');
    }

    public P emptyTuple() {
        return op(')');
    }

    public P reduce() {
        return op('R');
    }

    public P setitems() {
        return op('u');
    }

    public P stop() {
        return op('.');
    }

    /** {@code ('storage', torch.<type>, key, 'cpu', numel)} then BINPERSID. */
    public P storage(String type, String key, long numel) {
        return mark().str("storage").global("torch", type).str(key).str("cpu").integer(numel).tuple().op('Q');
    }

    /** {@code torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())}. */
    public P tensorV2(String storageType, String key, long numel, long offset, long[] size, long[] stride) {
        global("torch._utils", "_rebuild_tensor_v2").mark();
        storage(storageType, key, numel).integer(offset);
        mark();
        for (long s : size) {
            integer(s);
        }
        tuple().mark();
        for (long s : stride) {
            integer(s);
        }
        tuple().op(0x89).global("collections", "OrderedDict").emptyTuple().reduce();
        return tuple().reduce();
    }

    public byte[] bytes() {
        return out.toByteArray();
    }
}
