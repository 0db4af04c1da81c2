package io.torchbridge.reader;

/**
 * How a tensor's values are laid out: PyTorch's {@code torch.layout}, plus {@link #NESTED} for a
 * nested tensor (which PyTorch reports as {@code torch.strided} with {@code is_nested}).
 *
 * <p>A {@link Tensor} of any layout other than {@link #STRIDED} has no single storage view: its
 * parts are {@link Tensor#components()}, and its copying methods ({@link Tensor#stream},
 * {@link Tensor#toFloatArray()}, ...) give its dense values.
 */
public enum TensorLayout {
    /** An ordinary tensor: a view of one storage with sizes, strides and an offset. */
    STRIDED("strided"),
    /** Coordinate format: {@code indices} (int64, sparse_dim x nnz) and {@code values} (nnz, dense dims...). */
    SPARSE_COO("sparse_coo"),
    /** Compressed rows: {@code crow_indices}, {@code col_indices}, {@code values}. */
    SPARSE_CSR("sparse_csr"),
    /** Compressed columns: {@code ccol_indices}, {@code row_indices}, {@code values}. */
    SPARSE_CSC("sparse_csc"),
    /** Compressed rows of blocks: {@code crow_indices}, {@code col_indices}, {@code values} (nnz, block rows, block cols). */
    SPARSE_BSR("sparse_bsr"),
    /** Compressed columns of blocks: {@code ccol_indices}, {@code row_indices}, {@code values} (nnz, block rows, block cols). */
    SPARSE_BSC("sparse_bsc"),
    /**
     * A nested tensor ({@code torch.nested.nested_tensor}, strided layout): components of different
     * shapes in one {@code buffer}, described by {@code sizes}, {@code strides} and
     * {@code storage_offsets} (one row per component). Its dense values are the components'
     * values concatenated, each in row-major order ({@code torch.cat([c.reshape(-1) for c in t.unbind()])}).
     */
    NESTED("nested");

    private final String pythonName;

    TensorLayout(String pythonName) {
        this.pythonName = pythonName;
    }

    /**
     * PyTorch's name without {@code torch.} ({@code sparse_csr}); {@code nested} for a nested
     * tensor, whose {@code torch.layout} is {@code strided}.
     *
     * @return the name
     */
    public String pythonName() {
        return pythonName;
    }

    /** {@return whether it is one of the five sparse layouts} */
    public boolean isSparse() {
        return this != STRIDED && this != NESTED;
    }

    /** {@return whether it is CSR, CSC, BSR or BSC: compressed indices over one dimension, plain indices over the other} */
    public boolean isCompressed() {
        return this == SPARSE_CSR || this == SPARSE_CSC || this == SPARSE_BSR || this == SPARSE_BSC;
    }

    /** {@return whether it is BSR or BSC: each stored value is a block} */
    public boolean isBlocked() {
        return this == SPARSE_BSR || this == SPARSE_BSC;
    }

    /** Compresses columns (CSC, BSC) rather than rows. */
    boolean compressesColumns() {
        return this == SPARSE_CSC || this == SPARSE_BSC;
    }

    @Override
    public String toString() {
        return pythonName;
    }
}
