//! Tables across the Python border, through the Arrow C stream interface.
//!
//! In: any object with `__arrow_c_stream__` (pyarrow Table and
//! RecordBatchReader, polars DataFrame, pandas via pyarrow, ...) or
//! `__arrow_c_array__` (a pyarrow RecordBatch), a dict of column lists, a list
//! of row dicts, Arrow IPC stream bytes, or a file path. Out: a
//! `natsbridge.Table`, which exposes `__arrow_c_stream__`; when pyarrow is
//! installed the receive path hands it to `pyarrow.table()`, which imports the
//! batches without copying their buffers.

use std::ffi::CStr;

use arrow_array::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use arrow_array::{Array, RecordBatch, RecordBatchIterator, RecordBatchReader, StructArray};
use natsbridge::{Body, Error, ErrorKind};
use pyo3::exceptions::{PyAttributeError, PyImportError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyCapsule, PyDict, PyList, PyTuple};

use crate::error::{NbError, nb_error};
use crate::json;

const STREAM_CAPSULE: &CStr = c"arrow_array_stream";
const SCHEMA_CAPSULE: &CStr = c"arrow_schema";
const ARRAY_CAPSULE: &CStr = c"arrow_array";

/// A table received by natsbridge (wire type `table`): Arrow record batches
/// and the IPC stream bytes they were read from.
///
/// With pyarrow installed, received tables are `pyarrow.Table`s; this class
/// is what arrives without it. It speaks the Arrow PyCapsule protocol
/// (`__arrow_c_stream__`), so `pyarrow.table(t)`, `polars.from_arrow(t)` or
/// duckdb read it without a copy, and offers a few pure-Python conveniences.
#[pyclass(name = "Table", module = "natsbridge", frozen)]
pub struct PyTable {
    pub inner: natsbridge::Table,
}

#[pymethods]
impl PyTable {
    /// Reads an Arrow IPC stream.
    #[staticmethod]
    fn from_ipc(data: &Bound<'_, PyAny>) -> PyResult<PyTable> {
        let bytes = crate::payload::bytes_from_py(data)?
            .ok_or_else(|| nb_error(ErrorKind::InvalidArgument, "from_ipc takes bytes"))?;
        Ok(PyTable {
            inner: natsbridge::Table::from_ipc(bytes).map_err(NbError)?,
        })
    }

    /// The number of rows.
    #[getter]
    fn num_rows(&self) -> usize {
        self.inner.num_rows()
    }

    /// The number of columns.
    #[getter]
    fn num_columns(&self) -> usize {
        self.inner.num_columns()
    }

    /// The column names, in order.
    #[getter]
    fn column_names(&self) -> Vec<String> {
        self.inner
            .schema()
            .fields()
            .iter()
            .map(|field| field.name().clone())
            .collect()
    }

    /// The Arrow schema as text, one `name: type` line per column.
    #[getter]
    fn schema(&self) -> String {
        self.inner
            .schema()
            .fields()
            .iter()
            .map(|field| format!("{}: {}", field.name(), field.data_type()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The rows as a list of dicts. Numbers, strings, booleans and nulls come
    /// back as such; dates and timestamps as ISO strings, binary as base64.
    fn to_pylist<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let rows = self.inner.to_json_rows().map_err(NbError)?;
        let list = PyList::empty(py);
        for row in &rows {
            list.append(json::to_py(py, row)?)?;
        }
        Ok(list)
    }

    /// The columns as a dict of lists (values as in `to_pylist`).
    fn to_pydict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let columns = self.inner.to_json_columns().map_err(NbError)?;
        json::to_py_dict(py, &columns)
    }

    /// The Arrow IPC stream bytes, exactly as they travelled.
    fn to_ipc<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.ipc_bytes())
    }

    /// The table as a `pyarrow.Table` (needs pyarrow).
    fn to_pyarrow<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        match pyarrow_table(py)? {
            Some(table) => table.call1((slf,)),
            None => Err(PyImportError::new_err(
                "Table.to_pyarrow() needs pyarrow: pip install 'natsbridge[arrow]'",
            )),
        }
    }

    /// Exports the table through the Arrow C stream interface. The requested
    /// schema is not applied (the producer may ignore it); the table comes as
    /// it travelled.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let schema = self.inner.schema().clone();
        let batches: Vec<_> = self.inner.batches().iter().cloned().map(Ok).collect();
        let reader: Box<dyn RecordBatchReader + Send> =
            Box::new(RecordBatchIterator::new(batches, schema));
        PyCapsule::new_with_value(py, FFI_ArrowArrayStream::new(reader), STREAM_CAPSULE)
    }

    /// Exports the schema through the Arrow C data interface.
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let schema = FFI_ArrowSchema::try_from(self.inner.schema().as_ref()).map_err(|err| {
            NbError(
                Error::new(ErrorKind::Serialization, "cannot export the table's schema")
                    .with_source(err),
            )
        })?;
        PyCapsule::new_with_value(py, schema, SCHEMA_CAPSULE)
    }

    fn __len__(&self) -> usize {
        self.inner.num_rows()
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<PyTable>() {
            Ok(other) => {
                let other = &other.get().inner;
                self.inner.schema() == other.schema()
                    && self.inner.to_json_columns().ok() == other.to_json_columns().ok()
            }
            Err(_) => false,
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "natsbridge.Table({} rows; {})",
            self.inner.num_rows(),
            self.inner
                .schema()
                .fields()
                .iter()
                .map(|field| format!("{}: {}", field.name(), field.data_type()))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    /// Called only for attributes the class lacks: most are pyarrow.Table's.
    fn __getattr__(&self, name: &str) -> PyResult<Py<PyAny>> {
        Err(PyAttributeError::new_err(format!(
            "natsbridge.Table has no attribute {name:?}. This is the table type received when \
             pyarrow is not installed; it offers num_rows, num_columns, column_names, to_pylist(), \
             to_pydict(), to_ipc() and __arrow_c_stream__. For pyarrow.Table's API install \
             pyarrow (pip install 'natsbridge[arrow]')."
        )))
    }
}

/// `pyarrow.table`, or `None` when pyarrow is not installed; looked up once.
pub fn pyarrow_table(py: Python<'_>) -> PyResult<Option<&Bound<'_, PyAny>>> {
    static PYARROW_TABLE: PyOnceLock<Option<Py<PyAny>>> = PyOnceLock::new();
    let found = PYARROW_TABLE.get_or_try_init(py, || match py.import("pyarrow") {
        Ok(module) => module.getattr("table").map(|f| Some(f.unbind())),
        Err(err) if err.is_instance_of::<PyImportError>(py) => Ok(None),
        Err(err) => Err(err),
    })?;
    Ok(found.as_ref().map(|f| f.bind(py)))
}

/// The Python value a received table is delivered as: a `pyarrow.Table`
/// when pyarrow is installed, else a `natsbridge.Table`.
pub fn table_to_py<'py>(py: Python<'py>, table: natsbridge::Table) -> PyResult<Bound<'py, PyAny>> {
    let table = Bound::new(py, PyTable { inner: table })?;
    match pyarrow_table(py)? {
        Some(to_pyarrow) => to_pyarrow.call1((table,)),
        None => Ok(table.into_any()),
    }
}

/// The body of a `table` payload given as `value`, or `None` if `value` is
/// not something a table can be made from.
pub fn table_body(value: &Bound<'_, PyAny>) -> PyResult<Option<Body>> {
    let py = value.py();
    if let Ok(table) = value.cast::<PyTable>() {
        return Ok(Some(Body::Table(table.get().inner.clone())));
    }
    if let Ok(columns) = value.cast::<PyDict>() {
        let columns = json_of(columns.as_any())?;
        let table = match &columns {
            serde_json::Value::Object(map) => natsbridge::Table::from_json_columns(map),
            _ => unreachable!("a dict converts to a JSON object"),
        };
        return Ok(Some(Body::Table(table.map_err(NbError)?)));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let rows = json_of(value)?;
        let rows = rows.as_array().map(Vec::as_slice).unwrap_or_default();
        let table = natsbridge::Table::from_json_rows(rows).map_err(NbError)?;
        return Ok(Some(Body::Table(table)));
    }
    if let Some(bytes) = crate::payload::bytes_from_py(value)? {
        return Ok(Some(Body::Bytes(bytes)));
    }
    if let Some(path) = crate::payload::path_from_py(value)? {
        return Ok(Some(Body::File(path)));
    }
    // Coercions that need Python-side knowledge (pandas -> pyarrow) live in
    // the package's __init__.py.
    let coerce = py.import("natsbridge")?.getattr("_table_source")?;
    let source = coerce.call1((value,))?;
    if source.is_none() {
        return Ok(None);
    }
    if !source.is(value) && (source.is_instance_of::<PyDict>() || source.is_instance_of::<PyList>())
    {
        return table_body(&source);
    }
    if source.hasattr("__arrow_c_stream__")? {
        return Ok(Some(Body::Table(import_stream(&source)?)));
    }
    if source.hasattr("__arrow_c_array__")? {
        return Ok(Some(Body::Table(import_array(&source)?)));
    }
    Ok(None)
}

fn json_of(value: &Bound<'_, PyAny>) -> PyResult<serde_json::Value> {
    json::to_json(value).map_err(|err| {
        nb_error(
            ErrorKind::Serialization,
            format!("the table's values cannot be read as columns or rows: {err}"),
        )
        .into()
    })
}

fn arrow_error(what: &str, err: arrow_schema::ArrowError) -> PyErr {
    NbError(Error::new(ErrorKind::Serialization, format!("{what}: {err}")).with_source(err)).into()
}

/// Imports a table through `obj.__arrow_c_stream__()`.
fn import_stream(obj: &Bound<'_, PyAny>) -> PyResult<natsbridge::Table> {
    let capsule = obj.call_method0("__arrow_c_stream__")?;
    let capsule = capsule.cast::<PyCapsule>()?;
    let pointer = capsule.pointer_checked(Some(STREAM_CAPSULE))?;
    // SAFETY: the capsule is named arrow_array_stream, so by the Arrow
    // PyCapsule protocol it holds an FFI_ArrowArrayStream; from_raw moves it
    // out and marks the capsule's copy released, as the protocol requires.
    let stream = unsafe { FFI_ArrowArrayStream::from_raw(pointer.as_ptr().cast()) };
    let reader = RecordBatchStreamReader::try_new(stream)
        .map_err(|err| arrow_error("cannot read the Arrow stream", err))?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| arrow_error("cannot read the Arrow stream", err))?;
    natsbridge::Table::from_batches(schema, batches).map_err(|err| NbError(err).into())
}

/// Imports a record batch through `obj.__arrow_c_array__()`.
fn import_array(obj: &Bound<'_, PyAny>) -> PyResult<natsbridge::Table> {
    let pair = obj.call_method0("__arrow_c_array__")?;
    let (schema_capsule, array_capsule): (Bound<'_, PyCapsule>, Bound<'_, PyCapsule>) =
        pair.extract()?;
    let schema_pointer = schema_capsule.pointer_checked(Some(SCHEMA_CAPSULE))?;
    let array_pointer = array_capsule.pointer_checked(Some(ARRAY_CAPSULE))?;
    // SAFETY: by the Arrow PyCapsule protocol these capsules hold an
    // FFI_ArrowSchema and an FFI_ArrowArray. The schema is only borrowed
    // (its capsule still releases it); the array is moved out and marked
    // released, as the protocol requires of a consumer.
    let data = unsafe {
        let schema = &*schema_pointer.as_ptr().cast::<FFI_ArrowSchema>();
        let array = FFI_ArrowArray::from_raw(array_pointer.as_ptr().cast());
        arrow_array::ffi::from_ffi(array, schema)
    }
    .map_err(|err| arrow_error("cannot read the Arrow array", err))?;
    let array = arrow_array::make_array(data);
    let Some(structs) = array.as_any().downcast_ref::<StructArray>() else {
        return Err(nb_error(
            ErrorKind::InvalidArgument,
            format!(
                "__arrow_c_array__ gave a {} array; a table needs a struct array (a record batch)",
                array.data_type()
            ),
        )
        .into());
    };
    let batch = RecordBatch::from(structs);
    natsbridge::Table::from_batches(batch.schema(), vec![batch]).map_err(|err| NbError(err).into())
}
