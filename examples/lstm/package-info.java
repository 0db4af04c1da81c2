/** A 2-layer LSTM language model with tied embedding and decoder weights; the twin is lstm.py. */
package lstm;
