//! Tables for C: `nb_table` (a validated Arrow table: its IPC stream bytes
//! and record batches), `nb_table_builder` (column by column, for callers
//! without an Arrow library) and the export as an Arrow C stream
//! (`struct ArrowArrayStream`) for callers with one.

use std::ffi::c_char;
use std::sync::Arc;

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatchIterator, StringArray,
};
use bytes::Bytes;
use natsbridge::{Table, TableBuilder};

use crate::args;
use crate::error::{boundary, invalid, nb_error, nb_status};

/// An Arrow table: the Arrow IPC stream bytes it travels as, and its record
/// batches. Immutable and thread-safe. Made by `nb_table_from_ipc`,
/// `nb_table_builder_finish` or `nb_envelope_payload_table`; freed with
/// `nb_table_free`. Passing it to a send does not consume it.
pub struct nb_table {
    pub(crate) table: Table,
}

/// Builds a table column by column (int64, float64, bool, utf8), for callers
/// without an Arrow library. Create with `nb_table_builder_new`, add columns,
/// then `nb_table_builder_finish`; free with `nb_table_builder_free`. Not
/// thread-safe: use one builder from one thread at a time.
pub struct nb_table_builder {
    columns: Vec<(String, ArrayRef)>,
}

impl nb_table_builder {
    /// A core builder holding every column so far.
    fn core(&self) -> natsbridge::Result<TableBuilder> {
        let mut builder = TableBuilder::new();
        for (name, array) in &self.columns {
            builder = builder.column(name, array.clone())?;
        }
        Ok(builder)
    }

    /// Adds a column if the core accepts it next to the others (same length,
    /// new name); the builder is unchanged otherwise.
    fn add(&mut self, name: &str, array: ArrayRef) -> natsbridge::Result<()> {
        self.core()?.column(name, array.clone())?;
        self.columns.push((name.to_owned(), array));
        Ok(())
    }
}

/// Reads and validates an Arrow IPC **stream** (schema message, record
/// batches, end-of-stream marker; not the Arrow file format). The bytes are
/// copied: the caller keeps `data`.
///
/// On success writes a new table to `*out_table` (free with `nb_table_free`).
/// Fails with `NB_ERR_INVALID_TABLE` when the bytes are not an IPC stream.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_table_from_ipc(
    data: *const u8,
    len: usize,
    out_table: *mut *mut nb_table,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        args::out_param(out_table, "out_table")?;
        // SAFETY: `len` readable bytes at `data` per the header.
        let bytes = unsafe { args::bytes(data, len, "data") }?;
        let table = Table::from_ipc(Bytes::copy_from_slice(bytes))?;
        let handle = Box::into_raw(Box::new(nb_table { table }));
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_table, handle) };
        Ok(())
    })
}

/// The number of rows over all record batches; 0 for a NULL table.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_table_num_rows(table: *const nb_table) -> u64 {
    // SAFETY: NULL or a live table.
    unsafe { table.as_ref() }.map_or(0, |t| t.table.num_rows() as u64)
}

/// The number of columns; 0 for a NULL table.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_table_num_columns(table: *const nb_table) -> u64 {
    // SAFETY: NULL or a live table.
    unsafe { table.as_ref() }.map_or(0, |t| t.table.num_columns() as u64)
}

/// The table's Arrow IPC stream bytes, exactly as they travel.
///
/// On success writes a pointer to the bytes to `*out_data` and their length
/// to `*out_len`. The bytes are owned by `table` and valid until
/// `nb_table_free(table)`; do not modify or free them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_table_ipc(
    table: *const nb_table,
    out_data: *mut *const u8,
    out_len: *mut usize,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live table.
        let table = unsafe { args::required(table, "table") }?;
        args::out_param(out_data, "out_data")?;
        args::out_param(out_len, "out_len")?;
        let ipc = table.table.ipc_bytes();
        // SAFETY: both checked non-NULL above.
        unsafe {
            args::write(out_data, ipc.as_ptr());
            args::write(out_len, ipc.len());
        }
        Ok(())
    })
}

/// Exports the table through the Arrow C stream interface.
///
/// `out_stream` points to caller-provided storage for one
/// `struct ArrowArrayStream` that holds no live stream (it is overwritten,
/// not released). On success it holds a stream whose schema is the table's
/// (a struct of its columns) and whose arrays are its record batches, in
/// order. The caller owns the stream: it must call
/// `out_stream->release(out_stream)` when done. The stream is independent of
/// `table` (it shares the immutable column buffers), so either may be freed
/// first. A stream must be used from one thread at a time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_table_export_stream(
    table: *const nb_table,
    out_stream: *mut FFI_ArrowArrayStream,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live table.
        let table = unsafe { args::required(table, "table") }?;
        args::out_param(out_stream, "out_stream")?;
        let stream = export_stream(&table.table);
        // SAFETY: checked non-NULL; the storage holds no live stream, so
        // nothing is dropped (documented).
        unsafe { args::write(out_stream, stream) };
        Ok(())
    })
}

pub(crate) fn export_stream(table: &Table) -> FFI_ArrowArrayStream {
    let batches = table.batches().to_vec();
    let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), table.schema().clone());
    FFI_ArrowArrayStream::new(Box::new(reader))
}

/// Releases a table. NULL is accepted and ignored. Pointers from
/// `nb_table_ipc` die with it; exported streams do not.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_table_free(table: *mut nb_table) {
    if !table.is_null() {
        // SAFETY: a handle this library returned, freed once.
        drop(unsafe { Box::from_raw(table) });
    }
}

/// Creates an empty table builder.
///
/// On success writes a new builder to `*out_builder` (free with
/// `nb_table_builder_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_table_builder_new(
    out_builder: *mut *mut nb_table_builder,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        args::out_param(out_builder, "out_builder")?;
        let builder = Box::new(nb_table_builder {
            columns: Vec::new(),
        });
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_builder, Box::into_raw(builder)) };
        Ok(())
    })
}

/// Which rows of a column are valid: `valid` is NULL (all rows valid) or
/// `len` bytes, 0 meaning null.
///
/// # Safety
/// `valid` is NULL or has `len` readable bytes.
unsafe fn validity(valid: *const u8, len: usize) -> natsbridge::Result<Option<Vec<bool>>> {
    if valid.is_null() {
        return Ok(None);
    }
    // SAFETY: per the contract.
    let flags = unsafe { args::bytes(valid, len, "valid") }?;
    Ok(Some(flags.iter().map(|&flag| flag != 0).collect()))
}

fn with_validity<T: Copy>(values: &[T], valid: Option<&[bool]>) -> Vec<Option<T>> {
    match valid {
        None => values.iter().copied().map(Some).collect(),
        Some(valid) => values
            .iter()
            .zip(valid)
            .map(|(&value, &ok)| ok.then_some(value))
            .collect(),
    }
}

/// Shared body of the numeric column adders.
fn add_column(
    builder: *mut nb_table_builder,
    name: *const c_char,
    out_error: *mut *mut nb_error,
    make: impl FnOnce() -> natsbridge::Result<ArrayRef>,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live builder, not used concurrently (documented).
        let builder = unsafe { args::required_mut(builder, "builder") }?;
        // SAFETY: a NUL-terminated string per the header.
        let name = unsafe { args::text(name, "name") }?;
        if name.is_empty() {
            return Err(invalid("a table column name must not be empty"));
        }
        let array = make()?;
        builder.add(name, array)
    })
}

/// Adds an int64 column of `len` values. `valid` is NULL (no nulls) or `len`
/// bytes where 0 marks a null row (its value is ignored). Everything is
/// copied. Every column must have the same length and a distinct name
/// (`NB_ERR_SERIALIZATION` otherwise; the builder is then unchanged).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_table_builder_add_int64(
    builder: *mut nb_table_builder,
    name: *const c_char,
    values: *const i64,
    valid: *const u8,
    len: usize,
    out_error: *mut *mut nb_error,
) -> nb_status {
    add_column(builder, name, out_error, || {
        // SAFETY: `len` values and NULL or `len` flags per the header.
        let values = unsafe { args::slice(values, len, "values") }?;
        let valid = unsafe { validity(valid, len) }?;
        Ok(Arc::new(Int64Array::from(with_validity(values, valid.as_deref()))) as ArrayRef)
    })
}

/// Adds a float64 column; same rules as `nb_table_builder_add_int64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_table_builder_add_float64(
    builder: *mut nb_table_builder,
    name: *const c_char,
    values: *const f64,
    valid: *const u8,
    len: usize,
    out_error: *mut *mut nb_error,
) -> nb_status {
    add_column(builder, name, out_error, || {
        // SAFETY: `len` values and NULL or `len` flags per the header.
        let values = unsafe { args::slice(values, len, "values") }?;
        let valid = unsafe { validity(valid, len) }?;
        Ok(Arc::new(Float64Array::from(with_validity(values, valid.as_deref()))) as ArrayRef)
    })
}

/// Adds a boolean column of C `bool` values; same rules as
/// `nb_table_builder_add_int64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_table_builder_add_bool(
    builder: *mut nb_table_builder,
    name: *const c_char,
    values: *const bool,
    valid: *const u8,
    len: usize,
    out_error: *mut *mut nb_error,
) -> nb_status {
    add_column(builder, name, out_error, || {
        // SAFETY: `len` values and NULL or `len` flags per the header.
        let values = unsafe { args::slice(values, len, "values") }?;
        let valid = unsafe { validity(valid, len) }?;
        Ok(Arc::new(BooleanArray::from(with_validity(values, valid.as_deref()))) as ArrayRef)
    })
}

/// Adds a UTF-8 string column of `len` NUL-terminated strings; a NULL entry
/// is a null row. Strings are copied. Fails with `NB_ERR_INVALID_ARGUMENT`
/// when a string is not UTF-8; otherwise same rules as
/// `nb_table_builder_add_int64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_table_builder_add_utf8(
    builder: *mut nb_table_builder,
    name: *const c_char,
    values: *const *const c_char,
    len: usize,
    out_error: *mut *mut nb_error,
) -> nb_status {
    add_column(builder, name, out_error, || {
        // SAFETY: `len` string pointers per the header.
        let pointers = unsafe { args::slice(values, len, "values") }?;
        let strings = pointers
            .iter()
            .enumerate()
            .map(|(row, &ptr)| {
                if ptr.is_null() {
                    return Ok(None);
                }
                // SAFETY: a NUL-terminated string per the header. The row's
                // name is formatted only for an error (not once per cell).
                unsafe { std::ffi::CStr::from_ptr(ptr) }
                    .to_str()
                    .map(Some)
                    .map_err(|err| invalid(format!("values[{row}] is not valid UTF-8: {err}")))
            })
            .collect::<natsbridge::Result<Vec<Option<&str>>>>()?;
        Ok(Arc::new(StringArray::from(strings)) as ArrayRef)
    })
}

/// Writes the columns added so far as a table (one record batch) and empties
/// the builder, which may then be reused or freed.
///
/// On success writes a new table to `*out_table` (free with `nb_table_free`).
/// A builder without columns gives a table with no columns and no rows.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_table_builder_finish(
    builder: *mut nb_table_builder,
    out_table: *mut *mut nb_table,
    out_error: *mut *mut nb_error,
) -> nb_status {
    boundary(out_error, || {
        // SAFETY: NULL or a live builder, not used concurrently (documented).
        let builder = unsafe { args::required_mut(builder, "builder") }?;
        args::out_param(out_table, "out_table")?;
        let table = builder.core()?.finish()?;
        builder.columns.clear();
        let handle = Box::into_raw(Box::new(nb_table { table }));
        // SAFETY: checked non-NULL above.
        unsafe { args::write(out_table, handle) };
        Ok(())
    })
}

/// Releases a table builder and any columns it still holds. NULL is
/// accepted and ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nb_table_builder_free(builder: *mut nb_table_builder) {
    if !builder.is_null() {
        // SAFETY: a handle from nb_table_builder_new, freed once.
        drop(unsafe { Box::from_raw(builder) });
    }
}
