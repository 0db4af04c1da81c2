/** What the examples share: loading Python's weights strictly and comparing with Python's outputs. */
package common;
