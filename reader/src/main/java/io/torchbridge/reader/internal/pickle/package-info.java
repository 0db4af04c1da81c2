/**
 * The unpickler and the scanner: a pickle read into inert values, or walked to list what it names.
 *
 * <p>{@link io.torchbridge.reader.internal.pickle.PickleReader} is our own opcode loop; its one
 * entry point, {@code read}, checks every opcode. Of Pyrolite ({@code net.razorvine:pickle}) it
 * uses only {@code UnpickleStack}, the stack that keeps MARKs as a sentinel on the stack itself.
 * It neither extends nor references Pyrolite's {@code Unpickler}: that class's public
 * {@code loads} would be an unchecked way in (its REDUCE and BUILD construct objects through a
 * static, process-wide constructor registry and call {@code __setstate__} by reflection), and
 * merely loading it fills that registry with {@code net.razorvine.pickle.objects} constructors.
 * {@code PyroliteClassLoadTest} checks that opening and scanning never load either.
 *
 * <p>What replaces Pyrolite's dispatch, and why:
 * <ul>
 * <li>{@link io.torchbridge.reader.internal.pickle.OpcodeDecoder}, the one operand parser of the
 *     reader and the scanner: every length-prefixed operand is checked against the bytes left
 *     before anything is allocated (Pyrolite allocates the declared length first); a text operand
 *     must end in a newline; BINUNICODE is UTF-8 with CPython's 'surrogatepass', Python 2 strings
 *     (STRING, BINSTRING) UTF-8 as torch.load decodes them, STRING's escapes and UNICODE's
 *     'raw-unicode-escape' as {@code Modules/_pickle.c} decodes them.</li>
 * <li>GLOBAL, STACK_GLOBAL, INST, OBJ, REDUCE, NEWOBJ(_EX), BUILD: a global is checked against
 *     PyTorch's weights_only allowlist plus the reader's own options and stays an inert value
 *     ({@link io.torchbridge.reader.internal.pickle.Calls}); module names are normalised once,
 *     in {@link io.torchbridge.reader.internal.pickle.Allowlist#module}.</li>
 * <li>EMPTY_DICT, DICT, SETITEM(S): ordered maps, since a state_dict's order matters.</li>
 * <li>Integers become {@code Long} or {@code BigInteger}, tuples {@code PyTuple}, so values
 *     have one Java type each; the memo is an array indexed as the pickle numbers it.</li>
 * <li>The read loop: each error carries the opcode's byte offset; stack and memo are bounded; a
 *     MARK is never taken for a value.</li>
 * </ul>
 */
package io.torchbridge.reader.internal.pickle;
