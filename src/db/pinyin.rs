//! Pinyin search keys filled in for rows written before they existed: run
//! after the migrations (see [`super::migrate`]), it reads each name once
//! and writes its keys, in batches, until none is missing.

use diesel::prelude::*;

use super::DbConn;
use super::schema::{areas, donors, households, items};
use crate::domain::pinyin::{keys, person_keys};

/// Rows per batch.
const BATCH: i64 = 500;

macro_rules! fill {
    ($conn:expr, $table:ident, $name:ident, $full:ident, $initials:ident, $keys:path) => {{
        let mut n = 0usize;
        loop {
            // A name whose keys are empty although the name is not.
            let rows: Vec<(String, String)> = $table::table
                .filter($table::$full.eq(""))
                .filter($table::$name.ne(""))
                .select(($table::id, $table::$name))
                .limit(BATCH)
                .load($conn)?;
            // One transaction per batch (one sync to disk, not one a row).
            let wrote = super::write_tx($conn, |c| {
                let mut wrote = 0;
                for (id, name) in &rows {
                    let k = $keys(name);
                    // A name without any letter keeps empty keys: mark it
                    // with a space so it is not read again (a prefix search
                    // never starts with one).
                    let full = if k.full.is_empty() {
                        " ".to_string()
                    } else {
                        k.full
                    };
                    wrote += diesel::update($table::table.find(id))
                        .set(($table::$full.eq(full), $table::$initials.eq(k.initials)))
                        .execute(c)?;
                }
                Ok::<usize, diesel::result::Error>(wrote)
            })?;
            n += wrote;
            if (rows.len() as i64) < BATCH || wrote == 0 {
                break;
            }
        }
        n
    }};
}

/// Write the pinyin keys of every household head, item, donor and area
/// that lacks them; returns how many rows were filled. Database errors
/// only.
pub fn backfill(conn: &mut DbConn) -> QueryResult<usize> {
    let mut n = fill!(
        conn,
        households,
        head_name,
        head_pinyin,
        head_initials,
        person_keys
    );
    n += fill!(conn, items, name, name_pinyin, name_initials, keys);
    n += fill!(conn, donors, name, name_pinyin, name_initials, keys);
    n += fill!(conn, areas, name, name_pinyin, name_initials, keys);
    Ok(n)
}
