/** {@code nn.TransformerEncoder} (6 x 512, 8 heads) with a padding mask; the twin is transformer.py. */
package transformer;
