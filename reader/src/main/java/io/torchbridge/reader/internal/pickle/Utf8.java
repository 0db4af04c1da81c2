package io.torchbridge.reader.internal.pickle;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * UTF-8 decoding as CPython's pickle does it: strictly for Python 2 str operands, and with
 * {@code 'surrogatepass'} for BINUNICODE, so lone surrogates (which a Python str may hold) encoded
 * as three bytes decode to a Java char each.
 */
final class Utf8 {
    private Utf8() {
    }

    /** Decodes strictly, allowing encoded surrogates; returns null when the bytes are not UTF-8. */
    static String decode(byte[] b, int off, int len) {
        String s = decodeStrict(b, off, len);
        return s != null ? s : decodeSurrogatePass(b, off, len);
    }

    /** Decodes strictly (no surrogates); returns null when the bytes are not UTF-8. */
    static String decodeStrict(byte[] b, int off, int len) {
        // The JDK's own decoding replaces what is not UTF-8 with U+FFFD and is the fastest there is;
        // only text with a U+FFFD in it (bad bytes, or a real one) needs the strict decoder's word.
        String s = new String(b, off, len, StandardCharsets.UTF_8);
        if (s.indexOf('\uFFFD') < 0) {
            return s;
        }
        CharsetDecoder d = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        try {
            return d.decode(ByteBuffer.wrap(b, off, len)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    /** Strict decoding that differs from Java's only in accepting ED A0..BF xx (surrogates). */
    static String decodeSurrogatePass(byte[] b, int off, int len) {
        StringBuilder sb = new StringBuilder(len);
        int end = off + len;
        int i = off;
        while (i < end) {
            int c = b[i] & 0xFF;
            int need;
            int cp;
            int min;
            if (c < 0x80) {
                sb.append((char) c);
                i++;
                continue;
            } else if (c >= 0xC2 && c <= 0xDF) {
                need = 1;
                cp = c & 0x1F;
                min = 0x80;
            } else if (c >= 0xE0 && c <= 0xEF) {
                need = 2;
                cp = c & 0x0F;
                min = 0x800;
            } else if (c >= 0xF0 && c <= 0xF4) {
                need = 3;
                cp = c & 0x07;
                min = 0x10000;
            } else {
                return null;
            }
            if (i + need >= end) {
                return null;
            }
            for (int k = 1; k <= need; k++) {
                int cc = b[i + k] & 0xFF;
                if ((cc & 0xC0) != 0x80) {
                    return null;
                }
                cp = (cp << 6) | (cc & 0x3F);
            }
            if (cp < min || cp > 0x10FFFF) {
                return null;
            }
            sb.appendCodePoint(cp);
            i += need + 1;
        }
        return sb.toString();
    }
}
