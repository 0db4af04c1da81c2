package io.torchbridge.writer.internal;

import java.util.Locale;

/**
 * JSON string literals as the two tools whose bytes we match write them. Both escape {@code "},
 * {@code \}, the short forms ({@code \b \f \n \r \t}) and other controls as lowercase
 * {@code \\u00xx}; they differ only above ASCII: Python's {@code json.dump} (ensure_ascii, the
 * default: huggingface_hub's index) escapes 0x7f and every non-ASCII UTF-16 unit (a character
 * above U+FFFF as its surrogate pair), serde_json (safetensors' header) writes them raw.
 */
public final class JsonText {
    private JsonText() {
    }

    /** Appends {@code s} quoted; {@code asciiOnly} for Python's ensure_ascii, false for serde_json. */
    public static void string(StringBuilder sb, String s, boolean asciiOnly) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20 || (asciiOnly && c > 0x7e)) {
                        sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
