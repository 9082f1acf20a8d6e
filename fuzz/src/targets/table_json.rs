//! The JSON-shaped conversions front ends without an Arrow library use on a
//! received table (`Table::to_json_columns`, `Table::to_json_rows`: Python's
//! `to_pylist`-style access, the C ABI's JSON tree, Julia), on any Arrow IPC
//! bytes that `Table::from_ipc` accepts.
//!
//! Budget: a conversion makes one JSON value per cell and one object per
//! row (a `BTreeMap` leaf of ~630 bytes even for one column), so its memory
//! follows the cells, not the bytes: 8 KiB per input byte (1 KiB per cell at
//! the eight cells per byte `check_convertible` allows) plus 1 MiB. The
//! allowance of 4096 cells for null tables costs at most ~3 MiB more, so the
//! bound keeps tiny streams declaring millions of rows out.

use bytes::Bytes;
use natsbridge::Table;

use crate::harness::{Target, error_signature};
use crate::mutate;

/// The target.
pub fn target() -> Target {
    Target {
        name: "table_json",
        run,
        bytes_per_input_byte: 8 << 10,
        mutate: |rng, input, others| mutate::arrow(rng, input, others, 64 << 10),
        max_len: 64 << 10,
    }
}

/// Reads `input` as an IPC stream and converts it both ways.
pub fn run(input: &[u8]) -> String {
    let table = match Table::from_ipc(Bytes::copy_from_slice(input)) {
        Ok(table) => table,
        Err(err) => return format!("invalid:{}", err.kind().code()),
    };
    let mut types: Vec<String> = table
        .schema()
        .fields()
        .iter()
        .map(|field| {
            format!("{:?}", field.data_type())
                .chars()
                .take(12)
                .collect()
        })
        .collect();
    types.sort();
    types.dedup();
    let mut signature = format!("{}:{}", table.num_columns().min(4), types.join(","));
    match table.to_json_columns() {
        Ok(columns) => {
            assert_eq!(columns.len(), table.num_columns(), "a column went missing");
            for values in columns.values() {
                let len = values.as_array().map_or(0, Vec::len);
                assert_eq!(len, table.num_rows(), "a column has the wrong length");
            }
            let rows = table.to_json_rows().expect("rows convert when columns do");
            assert_eq!(rows.len(), table.num_rows(), "rows went missing");
            signature.push_str(":converted");
        }
        Err(err) => {
            signature.push_str(&format!(":{}", error_signature(&err)));
            assert!(
                table.to_json_rows().is_err(),
                "rows convert when columns do not"
            );
        }
    }
    signature
}
