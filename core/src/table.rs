//! Tables: Apache Arrow IPC **streaming** format (wire-v1 section 4) and the
//! conversions every binding shares.
//!
//! A [`Table`] keeps the IPC bytes it travels as next to the record batches
//! decoded from them; decoding is zero-copy where the bytes are aligned, so
//! holding both costs no second copy. Bindings without an Arrow library build
//! tables from JSON-like columns or rows ([`Table::from_json_columns`],
//! [`Table::from_json_rows`]) or column by column ([`TableBuilder`]), and
//! read them back as JSON ([`Table::to_json_rows`]).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, NullArray, RecordBatch, StringArray,
};
use arrow_buffer::Buffer;
use arrow_ipc::reader::StreamDecoder;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use serde_json::{Map, Number, Value};

use crate::clock;
use crate::error::{Error, ErrorKind, Result};

/// The default cap on the rows of a received table (16,777,216).
pub const DEFAULT_MAX_TABLE_ROWS: u64 = 1 << 24;

/// The cells a table's JSON conversions accept beyond eight per byte of its
/// IPC stream: room for small null and zero-column tables (see
/// [`Table::to_json_columns`]).
pub const CONVERTIBLE_CELLS_FLOOR: u64 = 4096;

/// A validated Arrow table: its IPC stream bytes and its record batches.
///
/// ```
/// use natsbridge::Table;
/// let rows: Vec<serde_json::Value> =
///     serde_json::from_str(r#"[{"id": 1, "name": "Alice"}, {"id": 2, "name": "Bob"}]"#).unwrap();
/// let table = Table::from_json_rows(&rows).unwrap();
/// assert_eq!(table.num_rows(), 2);
/// let again = Table::from_ipc(table.ipc_bytes().clone()).unwrap();
/// assert_eq!(again.to_json_rows().unwrap()[1]["name"], "Bob");
/// ```
#[derive(Debug, Clone)]
pub struct Table {
    ipc: Bytes,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl Table {
    /// Reads and validates an Arrow IPC stream (schema message, record
    /// batches, end-of-stream marker). Fails with [`ErrorKind::InvalidTable`]
    /// on anything else, including the Arrow *file* format.
    pub fn from_ipc(ipc: Bytes) -> Result<Table> {
        // arrow-rs has panicked on hostile IPC input in the past; a panic here
        // must become an error, never cross into a binding.
        let decoded = catch_unwind(AssertUnwindSafe(|| decode_stream(&ipc)));
        let (schema, batches) = match decoded {
            Ok(Ok(parts)) => parts,
            Ok(Err(err)) => return Err(invalid_table(&ipc, Some(err))),
            Err(_) => return Err(invalid_table(&ipc, None)),
        };
        Ok(Table {
            ipc,
            schema,
            batches,
        })
    }

    /// Writes record batches as an IPC stream. All batches must have `schema`.
    pub fn from_batches(schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<Table> {
        let mut writer = StreamWriter::try_new(Vec::new(), &schema).map_err(serialization)?;
        for batch in &batches {
            writer.write(batch).map_err(serialization)?;
        }
        writer.finish().map_err(serialization)?;
        let ipc = Bytes::from(writer.into_inner().map_err(serialization)?);
        Ok(Table {
            ipc,
            schema,
            batches,
        })
    }

    /// Builds a table from a JSON object of equally long column arrays,
    /// inferring each column's type: integers → int64, numbers → float64,
    /// booleans → bool, strings → utf8, all-null → null; `null` entries are
    /// nulls. Mixed or nested columns fail with [`ErrorKind::Serialization`].
    pub fn from_json_columns(columns: &Map<String, Value>) -> Result<Table> {
        let mut builder = TableBuilder::new();
        for (name, values) in columns {
            let values = values.as_array().ok_or_else(|| {
                Error::new(
                    ErrorKind::Serialization,
                    format!("table column '{name}' is not an array"),
                )
            })?;
            builder = builder.json_column(name, values.iter())?;
        }
        builder.finish()
    }

    /// Builds a table from a JSON array of row objects. Columns appear in the
    /// order their keys are first seen; a key missing from a row is a null.
    pub fn from_json_rows(rows: &[Value]) -> Result<Table> {
        let mut names: Vec<&str> = Vec::new();
        for (index, row) in rows.iter().enumerate() {
            let row = row.as_object().ok_or_else(|| {
                Error::new(
                    ErrorKind::Serialization,
                    format!("table row {index} is not an object"),
                )
            })?;
            for key in row.keys() {
                if !names.contains(&key.as_str()) {
                    names.push(key);
                }
            }
        }
        let mut builder = TableBuilder::new();
        for name in names {
            let column = rows.iter().map(|row| row.get(name).unwrap_or(&Value::Null));
            builder = builder.json_column(name, column)?;
        }
        builder.finish()
    }

    /// The IPC stream bytes, exactly as they travel.
    pub fn ipc_bytes(&self) -> &Bytes {
        &self.ipc
    }

    /// The table's schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The decoded record batches.
    pub fn batches(&self) -> &[RecordBatch] {
        &self.batches
    }

    /// The number of rows over all batches (saturating: a hostile stream
    /// may declare more than `usize` holds).
    pub fn num_rows(&self) -> usize {
        self.batches
            .iter()
            .map(RecordBatch::num_rows)
            .fold(0usize, usize::saturating_add)
    }

    /// Refuses a table whose logical size is implausible: more than
    /// `max_rows` rows, or more cells (rows × columns, a zero-column table
    /// counting one per row) than eight per byte of its IPC stream and more
    /// than `max_rows`. Null columns and zero-column batches need no
    /// buffers, so a few hundred bytes can otherwise declare 2^40 rows that
    /// every conversion to rows would try to materialise.
    ///
    /// ```
    /// use natsbridge::Table;
    /// let rows: Vec<serde_json::Value> = serde_json::from_str(r#"[{"a": 1}, {"a": 2}]"#).unwrap();
    /// let table = Table::from_json_rows(&rows).unwrap();
    /// assert!(table.check_logical_size(2).is_ok());
    /// assert!(table.check_logical_size(1).is_err());
    /// ```
    pub fn check_logical_size(&self, max_rows: u64) -> Result<()> {
        let rows = self
            .batches
            .iter()
            .map(|batch| batch.num_rows() as u64)
            .fold(0u64, u64::saturating_add);
        if rows > max_rows {
            return Err(Error::new(
                ErrorKind::InvalidTable,
                format!(
                    "a table of {} bytes declares {rows} rows, over this receiver's \
                     max_table_rows of {max_rows}",
                    self.ipc.len()
                ),
            ));
        }
        self.check_cells(rows, max_rows, ErrorKind::InvalidTable)
    }

    /// The cell half of [`Table::check_logical_size`].
    fn check_cells(&self, rows: u64, max_rows: u64, kind: ErrorKind) -> Result<()> {
        let columns = self.num_columns().max(1) as u64;
        let cells = rows.saturating_mul(columns);
        let plausible = (self.ipc.len() as u64).saturating_mul(8).max(max_rows);
        if cells > plausible {
            return Err(Error::new(
                kind,
                format!(
                    "a table of {} bytes declares {rows} rows of {columns} columns ({cells} \
                     cells), more than its size can hold and over {max_rows} cells",
                    self.ipc.len()
                ),
            ));
        }
        Ok(())
    }

    /// Conversions to rows or columns make one JSON value per cell (and one
    /// object per row), so they refuse a table with more cells than eight
    /// per byte of its IPC stream (one bit per cell, what a boolean column
    /// takes) plus [`CONVERTIBLE_CELLS_FLOOR`] for null and zero-column
    /// tables, whose cells take no bytes at all, whatever receive options
    /// let it in. With the receive cap of 16,777,216 rows as the floor (as
    /// before), a 224-byte stream of 5,000,000 nulls passed and
    /// `to_json_rows` went for gigabytes (found by fuzzing,
    /// `fuzz/regressions/table_json/`).
    fn check_convertible(&self) -> Result<()> {
        let rows = self.num_rows() as u64;
        let columns = self.num_columns().max(1) as u64;
        let cells = rows.saturating_mul(columns);
        let plausible = (self.ipc.len() as u64)
            .saturating_mul(8)
            .saturating_add(CONVERTIBLE_CELLS_FLOOR);
        if cells > plausible {
            return Err(Error::new(
                ErrorKind::Serialization,
                format!(
                    "a table of {} bytes declares {rows} rows of {columns} columns ({cells} \
                     cells), more than its size can hold as values; read it with an Arrow \
                     library (pyarrow, apache-arrow) instead",
                    self.ipc.len()
                ),
            ));
        }
        Ok(())
    }

    /// The number of columns.
    pub fn num_columns(&self) -> usize {
        self.schema.fields().len()
    }

    /// The table as a JSON array of row objects (see [`Table::to_json_columns`]
    /// for the value mapping).
    pub fn to_json_rows(&self) -> Result<Vec<Value>> {
        self.check_convertible()?;
        let columns = self.json_columns()?;
        let mut rows = Vec::new();
        try_reserve(&mut rows, self.num_rows())?;
        for row in 0..self.num_rows() {
            let mut object = Map::new();
            for (name, values) in &columns {
                object.insert(name.clone(), values[row].clone());
            }
            rows.push(Value::Object(object));
        }
        Ok(rows)
    }

    /// The table as a JSON object of column arrays. Integers and floats become
    /// numbers (NaN and infinities null), strings strings, dates
    /// `YYYY-MM-DD`, timestamps RFC 3339 UTC, binary base64. Other Arrow types
    /// fail with [`ErrorKind::Serialization`]: read those with an Arrow library.
    /// So does a table with more cells than eight per byte of its IPC stream
    /// plus [`CONVERTIBLE_CELLS_FLOOR`] (only null and zero-column tables
    /// get there), since each cell becomes a JSON value.
    pub fn to_json_columns(&self) -> Result<Map<String, Value>> {
        Ok(self
            .json_columns()?
            .into_iter()
            .map(|(name, values)| (name, Value::Array(values)))
            .collect())
    }

    fn json_columns(&self) -> Result<Vec<(String, Vec<Value>)>> {
        self.check_convertible()?;
        // JSON objects keep one value per name: a received schema that names
        // two columns alike would lose one silently (found by fuzzing).
        let fields = self.schema.fields();
        if let Some((index, field)) = fields
            .iter()
            .enumerate()
            .find(|(index, field)| fields[..*index].iter().any(|f| f.name() == field.name()))
        {
            return Err(Error::new(
                ErrorKind::Serialization,
                format!(
                    "table column {index} is named '{}' like an earlier one; its JSON form \
                     would lose one of them: read the table with an Arrow library instead",
                    field.name()
                ),
            ));
        }
        let mut columns = Vec::new();
        try_reserve(&mut columns, self.num_columns())?;
        for (index, field) in self.schema.fields().iter().enumerate() {
            let mut values = Vec::new();
            try_reserve(&mut values, self.num_rows())?;
            for batch in &self.batches {
                array_to_json(field.name(), batch.column(index).as_ref(), &mut values)?;
            }
            columns.push((field.name().clone(), values));
        }
        Ok(columns)
    }
}

/// Reserves room for `additional` more items, or fails with a typed error
/// instead of aborting the process on a failed allocation.
fn try_reserve<T>(vec: &mut Vec<T>, additional: usize) -> Result<()> {
    vec.try_reserve(additional).map_err(|err| {
        Error::new(
            ErrorKind::Serialization,
            format!(
                "converting the table needs room for {additional} more values, more memory \
                 than can be had"
            ),
        )
        .with_source(err)
    })
}

fn decode_stream(ipc: &Bytes) -> std::result::Result<(SchemaRef, Vec<RecordBatch>), ArrowError> {
    check_framing(ipc)?;
    let mut buffer = Buffer::from(ipc.clone());
    let mut decoder = StreamDecoder::new();
    let mut batches = Vec::new();
    while !buffer.is_empty() {
        if let Some(batch) = decoder.decode(&mut buffer)? {
            batches.push(batch);
        }
    }
    decoder.finish()?;
    let schema = decoder.schema().ok_or_else(|| {
        ArrowError::IpcError("the stream ends before its schema message".to_owned())
    })?;
    Ok((schema, batches))
}

/// Refuses a stream whose framing declares more bytes than it holds before
/// arrow's decoder sees it: for a message longer than the bytes at hand the
/// decoder reserves room for the whole of it (up to 64 MiB) and waits for
/// more, so a payload of a few dozen bytes made every receiver allocate
/// 64 MiB (found by fuzzing, `fuzz/regressions/payload/`). The whole stream
/// is in memory here, so a message that does not fit is simply truncated.
fn check_framing(ipc: &[u8]) -> std::result::Result<(), ArrowError> {
    let truncated = |what: &str, declared: u64, at: usize, left: usize| {
        ArrowError::IpcError(format!(
            "the {what} at byte {at} declares {declared} bytes but only {left} remain"
        ))
    };
    let mut at = 0usize;
    while at < ipc.len() {
        let rest = &ipc[at..];
        let word = |from: usize| -> Option<u32> {
            rest.get(from..from + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        // The continuation marker precedes the length since format 0.15;
        // the decoder also reads the legacy form without it.
        let (length, prefix) = match word(0) {
            Some(u32::MAX) => (word(4), 8),
            other => (other, 4),
        };
        let Some(length) = length else {
            return Err(truncated("message prefix", prefix as u64, at, rest.len()));
        };
        if length == 0 {
            // End of stream; the decoder refuses anything after it.
            return Ok(());
        }
        let left = rest.len() - prefix;
        if length as usize > left {
            return Err(truncated("message header", u64::from(length), at, left));
        }
        let header = &rest[prefix..prefix + length as usize];
        let message = arrow_ipc::root_as_message(header).map_err(|err| {
            ArrowError::ParseError(format!("the message header at byte {at} is invalid: {err}"))
        })?;
        let body = u64::try_from(message.bodyLength()).map_err(|_| {
            ArrowError::IpcError(format!(
                "the message at byte {at} has a negative body length"
            ))
        })?;
        let left = left - length as usize;
        if body > left as u64 {
            return Err(truncated("message body", body, at, left));
        }
        at += prefix + length as usize + body as usize;
    }
    Ok(())
}

fn invalid_table(ipc: &[u8], cause: Option<ArrowError>) -> Error {
    let hint = if ipc.starts_with(b"ARROW1") {
        " (this is the Arrow IPC file format; wire v1 carries the streaming format)"
    } else {
        ""
    };
    let err = Error::new(
        ErrorKind::InvalidTable,
        format!(
            "table payload of {} bytes is not an Arrow IPC stream{hint}",
            ipc.len()
        ),
    );
    match cause {
        Some(cause) => err.with_source(cause),
        None => err,
    }
}

fn serialization(err: ArrowError) -> Error {
    Error::new(
        ErrorKind::Serialization,
        "cannot write the table as Arrow IPC",
    )
    .with_source(err)
}

/// Builds a table column by column, for callers without an Arrow library
/// (the C ABI, Julia, JSON-shaped data from Python and Node).
///
/// ```
/// use natsbridge::TableBuilder;
/// let table = TableBuilder::new()
///     .int64("id", vec![Some(1), Some(2), None]).unwrap()
///     .utf8("name", vec![Some("Alice".into()), Some("Bob".into()), Some("Cy".into())]).unwrap()
///     .finish().unwrap();
/// assert_eq!((table.num_rows(), table.num_columns()), (3, 2));
/// ```
#[derive(Debug, Default)]
pub struct TableBuilder {
    fields: Vec<Field>,
    columns: Vec<ArrayRef>,
}

impl TableBuilder {
    /// An empty builder.
    pub fn new() -> TableBuilder {
        TableBuilder::default()
    }

    /// Adds an int64 column; `None` is a null.
    pub fn int64(self, name: &str, values: Vec<Option<i64>>) -> Result<TableBuilder> {
        self.column(name, Arc::new(Int64Array::from(values)))
    }

    /// Adds a float64 column; `None` is a null.
    pub fn float64(self, name: &str, values: Vec<Option<f64>>) -> Result<TableBuilder> {
        self.column(name, Arc::new(Float64Array::from(values)))
    }

    /// Adds a boolean column; `None` is a null.
    pub fn boolean(self, name: &str, values: Vec<Option<bool>>) -> Result<TableBuilder> {
        self.column(name, Arc::new(BooleanArray::from(values)))
    }

    /// Adds a UTF-8 string column; `None` is a null.
    pub fn utf8(self, name: &str, values: Vec<Option<String>>) -> Result<TableBuilder> {
        self.column(name, Arc::new(StringArray::from(values)))
    }

    /// Adds any Arrow array as a column.
    pub fn column(mut self, name: &str, array: ArrayRef) -> Result<TableBuilder> {
        if let Some(first) = self.columns.first()
            && first.len() != array.len()
        {
            return Err(Error::new(
                ErrorKind::Serialization,
                format!(
                    "table column '{name}' has {} rows but column '{}' has {}",
                    array.len(),
                    self.fields[0].name(),
                    first.len()
                ),
            ));
        }
        if self.fields.iter().any(|field| field.name() == name) {
            return Err(Error::new(
                ErrorKind::Serialization,
                format!("table column '{name}' appears twice"),
            ));
        }
        self.fields
            .push(Field::new(name, array.data_type().clone(), true));
        self.columns.push(array);
        Ok(self)
    }

    /// Adds a column from JSON values, inferring its type as
    /// [`Table::from_json_columns`] describes.
    pub fn json_column<'a>(
        self,
        name: &str,
        values: impl ExactSizeIterator<Item = &'a Value> + Clone,
    ) -> Result<TableBuilder> {
        let array = json_to_array(name, values)?;
        self.column(name, array)
    }

    /// Writes the columns as a one-batch table.
    pub fn finish(self) -> Result<Table> {
        let schema = Arc::new(Schema::new(self.fields));
        let batch = if self.columns.is_empty() {
            RecordBatch::new_empty(schema.clone())
        } else {
            RecordBatch::try_new(schema.clone(), self.columns).map_err(serialization)?
        };
        Table::from_batches(schema, vec![batch])
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Inferred {
    Null,
    Int,
    Float,
    Bool,
    Str,
}

fn json_to_array<'a>(
    name: &str,
    values: impl ExactSizeIterator<Item = &'a Value> + Clone,
) -> Result<ArrayRef> {
    let mut kind = Inferred::Null;
    for value in values.clone() {
        let this = match value {
            Value::Null => continue,
            Value::Bool(_) => Inferred::Bool,
            Value::Number(n) if n.is_i64() => Inferred::Int,
            Value::Number(_) => Inferred::Float,
            Value::String(_) => Inferred::Str,
            Value::Array(_) | Value::Object(_) => {
                return Err(Error::new(
                    ErrorKind::Serialization,
                    format!(
                        "table column '{name}' holds nested JSON ({value}); columns must hold \
                         numbers, strings, booleans or nulls"
                    ),
                ));
            }
        };
        kind = match (kind, this) {
            (Inferred::Null, this) => this,
            (a, b) if a == b => a,
            (Inferred::Int, Inferred::Float) | (Inferred::Float, Inferred::Int) => Inferred::Float,
            _ => {
                return Err(Error::new(
                    ErrorKind::Serialization,
                    format!("table column '{name}' mixes value types (at {value})"),
                ));
            }
        };
    }
    Ok(match kind {
        Inferred::Null => Arc::new(NullArray::new(values.len())),
        Inferred::Int => Arc::new(values.map(Value::as_i64).collect::<Int64Array>()),
        Inferred::Float => Arc::new(values.map(Value::as_f64).collect::<Float64Array>()),
        Inferred::Bool => Arc::new(values.map(Value::as_bool).collect::<BooleanArray>()),
        Inferred::Str => Arc::new(values.map(Value::as_str).collect::<StringArray>()),
    })
}

fn array_to_json(name: &str, array: &dyn Array, out: &mut Vec<Value>) -> Result<()> {
    macro_rules! each {
        ($typed:expr, $convert:expr) => {{
            let typed = $typed;
            for index in 0..typed.len() {
                out.push(if typed.is_null(index) {
                    Value::Null
                } else {
                    $convert(typed.value(index))
                });
            }
        }};
    }
    let float = |v: f64| Number::from_f64(v).map_or(Value::Null, Value::Number);
    try_reserve(out, array.len())?;
    match array.data_type() {
        DataType::Null => out.extend(std::iter::repeat_n(Value::Null, array.len())),
        DataType::Boolean => each!(array.as_boolean(), Value::Bool),
        DataType::Int8 => each!(array.as_primitive::<Int8Type>(), Value::from),
        DataType::Int16 => each!(array.as_primitive::<Int16Type>(), Value::from),
        DataType::Int32 => each!(array.as_primitive::<Int32Type>(), Value::from),
        DataType::Int64 => each!(array.as_primitive::<Int64Type>(), Value::from),
        DataType::UInt8 => each!(array.as_primitive::<UInt8Type>(), Value::from),
        DataType::UInt16 => each!(array.as_primitive::<UInt16Type>(), Value::from),
        DataType::UInt32 => each!(array.as_primitive::<UInt32Type>(), Value::from),
        DataType::UInt64 => each!(array.as_primitive::<UInt64Type>(), Value::from),
        DataType::Float16 => each!(array.as_primitive::<Float16Type>(), |v: F16| float(
            f64::from(v)
        )),
        DataType::Float32 => each!(array.as_primitive::<Float32Type>(), |v: f32| float(
            f64::from(v)
        )),
        DataType::Float64 => each!(array.as_primitive::<Float64Type>(), float),
        DataType::Utf8 => each!(array.as_string::<i32>(), Value::from),
        DataType::LargeUtf8 => each!(array.as_string::<i64>(), Value::from),
        DataType::Utf8View => each!(array.as_string_view(), Value::from),
        DataType::Binary => each!(array.as_binary::<i32>(), base64_value),
        DataType::LargeBinary => each!(array.as_binary::<i64>(), base64_value),
        DataType::Date32 => each!(array.as_primitive::<Date32Type>(), |d: i32| Value::from(
            clock::iso_date(i64::from(d))
        )),
        DataType::Date64 => each!(array.as_primitive::<Date64Type>(), |ms: i64| Value::from(
            clock::iso_date(ms.div_euclid(86_400_000))
        )),
        DataType::Timestamp(unit, _) => {
            let millis_per = |v: i64| match unit {
                TimeUnit::Second => v.saturating_mul(1000),
                TimeUnit::Millisecond => v,
                TimeUnit::Microsecond => v.div_euclid(1000),
                TimeUnit::Nanosecond => v.div_euclid(1_000_000),
            };
            let text = |v: i64| Value::from(clock::rfc3339_millis(millis_per(v)));
            match unit {
                TimeUnit::Second => each!(array.as_primitive::<TimestampSecondType>(), text),
                TimeUnit::Millisecond => {
                    each!(array.as_primitive::<TimestampMillisecondType>(), text)
                }
                TimeUnit::Microsecond => {
                    each!(array.as_primitive::<TimestampMicrosecondType>(), text)
                }
                TimeUnit::Nanosecond => {
                    each!(array.as_primitive::<TimestampNanosecondType>(), text)
                }
            }
        }
        DataType::Dictionary(_, _) => {
            let dictionary = array.as_any_dictionary();
            let mut distinct = Vec::new();
            array_to_json(name, dictionary.values().as_ref(), &mut distinct)?;
            for (index, key) in dictionary.normalized_keys().into_iter().enumerate() {
                out.push(if array.is_null(index) {
                    Value::Null
                } else {
                    distinct.get(key).cloned().unwrap_or(Value::Null)
                });
            }
        }
        other => {
            return Err(Error::new(
                ErrorKind::Serialization,
                format!(
                    "table column '{name}' has Arrow type {other}, which has no JSON form here; \
                     read the table with an Arrow library (pyarrow, apache-arrow) instead"
                ),
            ));
        }
    }
    Ok(())
}

type F16 = <Float16Type as arrow_array::ArrowPrimitiveType>::Native;

fn base64_value(bytes: &[u8]) -> Value {
    Value::from(crate::encoding::base64_encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn students() -> Table {
        Table::from_json_columns(
            json!({"id": [1, 2, 3], "name": ["Alice", "Bob", null], "score": [95.5, 88, 92]})
                .as_object()
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn json_columns_round_trip_through_ipc() {
        let table = students();
        let schema = table.schema();
        assert_eq!(schema.field(0).data_type(), &DataType::Int64);
        assert_eq!(schema.field(1).data_type(), &DataType::Utf8);
        assert_eq!(schema.field(2).data_type(), &DataType::Float64);
        let back = Table::from_ipc(table.ipc_bytes().clone()).unwrap();
        assert_eq!(
            Value::Object(back.to_json_columns().unwrap()),
            json!({"id": [1, 2, 3], "name": ["Alice", "Bob", null], "score": [95.5, 88.0, 92.0]})
        );
    }

    #[test]
    fn rows_fill_missing_keys_with_null() {
        let rows = json!([{"a": 1}, {"b": true}]);
        let table = Table::from_json_rows(rows.as_array().unwrap()).unwrap();
        assert_eq!(
            Value::Array(table.to_json_rows().unwrap()),
            json!([{"a": 1, "b": null}, {"a": null, "b": true}])
        );
    }

    #[test]
    fn mixed_and_nested_columns_are_refused() {
        let mixed = json!({"x": [1, "one"]});
        let err = Table::from_json_columns(mixed.as_object().unwrap()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Serialization);
        assert!(err.message().contains("'x'"));
        let nested = json!({"x": [[1]]});
        assert!(Table::from_json_columns(nested.as_object().unwrap()).is_err());
        let ragged = json!({"a": [1, 2], "b": [1]});
        let err = Table::from_json_columns(ragged.as_object().unwrap()).unwrap_err();
        assert!(err.message().contains("rows"), "{}", err.message());
    }

    #[test]
    fn garbage_is_invalid_table_not_a_panic() {
        let samples: [&[u8]; 5] = [
            b"",
            b"not arrow at all",
            b"ARROW1\0\0garbage",
            &[0xff, 0xff, 0xff, 0xff, 0x10, 0, 0, 0, 1, 2, 3],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
        ];
        for sample in samples {
            let err = Table::from_ipc(Bytes::copy_from_slice(sample)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidTable, "{sample:?}");
        }
        let err = Table::from_ipc(Bytes::from_static(b"ARROW1\0\0garbage")).unwrap_err();
        assert!(err.message().contains("file format"));
    }

    #[test]
    fn truncated_stream_is_invalid() {
        let ipc = students().ipc_bytes().clone();
        for cut in [8, ipc.len() / 2, ipc.len() - 9] {
            let err = Table::from_ipc(ipc.slice(..cut)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidTable, "cut at {cut}");
        }
    }

    #[test]
    fn empty_table_has_schema_and_no_rows() {
        let table = TableBuilder::new()
            .int64("a", vec![])
            .unwrap()
            .finish()
            .unwrap();
        let back = Table::from_ipc(table.ipc_bytes().clone()).unwrap();
        assert_eq!(back.num_rows(), 0);
        assert_eq!(back.num_columns(), 1);
    }

    /// An IPC stream of a few hundred bytes whose batch declares `rows` rows
    /// of `columns` null columns (no buffers at all).
    pub(crate) fn size_bomb(rows: usize, columns: usize) -> Bytes {
        let fields: Vec<Field> = (0..columns)
            .map(|i| Field::new(format!("c{i}"), DataType::Null, true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let arrays: Vec<ArrayRef> = (0..columns)
            .map(|_| Arc::new(NullArray::new(rows)) as ArrayRef)
            .collect();
        let batch = RecordBatch::try_new_with_options(
            schema.clone(),
            arrays,
            &arrow_array::RecordBatchOptions::new().with_row_count(Some(rows)),
        )
        .unwrap();
        let mut writer = StreamWriter::try_new(Vec::new(), &schema).unwrap();
        writer.write(&batch).unwrap();
        writer.finish().unwrap();
        Bytes::from(writer.into_inner().unwrap())
    }

    #[test]
    fn size_bombs_are_refused_and_conversions_never_abort() {
        for columns in [0, 1, 3] {
            let ipc = size_bomb(1 << 40, columns);
            assert!(ipc.len() < 1024, "{} bytes", ipc.len());
            let table = Table::from_ipc(ipc).unwrap();
            assert_eq!(table.num_rows(), 1 << 40);
            let err = table
                .check_logical_size(DEFAULT_MAX_TABLE_ROWS)
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidTable, "{err}");
            assert!(err.message().contains("max_table_rows"), "{err}");
            // Converting it anyway is a typed error, not an abort.
            let err = table.to_json_rows().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Serialization, "{err}");
            assert!(table.to_json_columns().is_err());
        }
        // Many null columns of a modest row count: the cells are implausible.
        let wide = Table::from_ipc(size_bomb(1 << 20, 2000)).unwrap();
        let err = wide.check_logical_size(1 << 24).unwrap_err();
        assert!(err.message().contains("cells"), "{err}");
        // Real data passes.
        students().check_logical_size(3).unwrap();
        Table::from_ipc(size_bomb(1000, 2))
            .unwrap()
            .check_logical_size(1 << 24)
            .unwrap();
    }
}
