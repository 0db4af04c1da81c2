/**
 * The unpickler, built on Pyrolite ({@code net.razorvine:pickle}).
 *
 * <p>{@link io.torchbridge.reader.internal.pickle.PickleReader} extends Pyrolite's
 * {@code Unpickler} and keeps its stack, memo and the opcodes with fixed-size operands (MARK,
 * POP_MARK, DUP, NONE, NEWTRUE/NEWFALSE, BINFLOAT, EMPTY_LIST, LIST, the memo opcodes, FRAME,
 * PROTO, UNICODE). It replaces the parts that break this project's rules:
 * <ul>
 * <li>GLOBAL, STACK_GLOBAL, INST, OBJ, REDUCE, NEWOBJ(_EX), BUILD: Pyrolite resolves globals
 *     through a static, process-wide constructor registry and calls {@code __setstate__} by
 *     reflection. Here a global is checked against PyTorch's weights_only allowlist plus the
 *     reader's own options and stays an inert value ({@link io.torchbridge.reader.internal.pickle.Calls}).</li>
 * <li>EMPTY_DICT, DICT, SETITEM(S): Pyrolite builds HashMaps, which lose insertion order; a
 *     state_dict's order matters, so dicts are {@code LinkedHashMap}s.</li>
 * <li>Every length-prefixed operand (BIN*STRING, BIN*UNICODE, BIN*BYTES, BYTEARRAY8, LONG1,
 *     LONG4): Pyrolite allocates the declared length before reading; here the length is checked
 *     against the bytes left first. BINUNICODE is decoded with CPython's 'surrogatepass'.</li>
 * <li>Integers become {@code Long} or {@code BigInteger}, tuples {@code PyTuple}, so values
 *     have one Java type each.</li>
 * <li>The read loop: each error carries the opcode's byte offset; stack and memo are bounded.</li>
 * </ul>
 */
package io.torchbridge.reader.internal.pickle;
