//! List results: Juju's `action-set` takes results only on argv, where one argument is limited
//! to 128 KiB. A list whose JSON fits in [`MAX_LIST_CHUNK_BYTES`] is one result,
//! `<key>=<json list>`. A longer one is split into consecutive results `<key>`, `<key>-2`, ...,
//! `<key>-<N>`, each a JSON list of whole entries, plus `<key>-parts=<N>`; concatenating the lists
//! in that order gives the whole list, and the action's `message` says so ([`split_note`]). An
//! entry that alone is over the limit is shortened ([`shrink_entry`]).

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// The longest JSON text one list result holds; see the module documentation. Well under
/// [`juju_hook::MAX_ACTION_VALUE_BYTES`], so `<key>=<chunk>` always fits one argument.
pub const MAX_LIST_CHUNK_BYTES: usize = 96 * 1024;

/// String fields longer than this are left out of an entry that is too large to show whole.
const SHRUNK_FIELD_BYTES: usize = 1024;

/// The result key of part `n` (1-based) of list `key`: `key`, `key-2`, `key-3`, ...
pub fn part_key(key: &str, n: usize) -> String {
    if n <= 1 {
        key.to_string()
    } else {
        format!("{key}-{n}")
    }
}

/// The result key holding the number of parts of a split list `key` (absent when not split).
pub fn parts_key(key: &str) -> String {
    format!("{key}-parts")
}

/// Text to add to an action's message when list `key` was split into `parts` results.
pub fn split_note(key: &str, parts: usize) -> Option<String> {
    if parts <= 1 {
        return None;
    }
    let names = if parts <= 3 {
        (1..=parts)
            .map(|n| part_key(key, n))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        format!("{key}, {}, ..., {}", part_key(key, 2), part_key(key, parts))
    };
    Some(format!(
        "the {key} list is too large for one result, so it is split into {parts} JSON lists \
         ({}={parts}): {names}; concatenate them in that order",
        parts_key(key)
    ))
}

/// `entry`, made small enough for one list result: an object keeps its short fields (strings up to
/// 1 KiB and other values whose JSON is that short) and gains `"truncated"` saying what was left
/// out; a long string is cut; anything else becomes a note. Such entries only come from hostile or
/// broken requirer input (CSRs and names are bounded far lower).
pub fn shrink_entry(entry: &Value, bytes: usize) -> Value {
    let why = format!(
        "this entry is {bytes} bytes of JSON, over the {MAX_LIST_CHUNK_BYTES}-byte limit of an action result"
    );
    match entry {
        Value::Object(map) => {
            let mut kept = serde_json::Map::new();
            let mut left_out = Vec::new();
            for (k, v) in map {
                let len = serde_json::to_string(v).map_or(usize::MAX, |t| t.len());
                if len <= SHRUNK_FIELD_BYTES && k.len() <= SHRUNK_FIELD_BYTES {
                    kept.insert(k.clone(), v.clone());
                } else {
                    left_out.push(k.chars().take(64).collect::<String>());
                }
            }
            kept.insert(
                "truncated".into(),
                Value::String(format!("{why}; left out: {}", left_out.join(", "))),
            );
            let shrunk = Value::Object(kept);
            if serde_json::to_string(&shrunk).map_or(usize::MAX, |t| t.len())
                <= MAX_LIST_CHUNK_BYTES
            {
                shrunk
            } else {
                json!({ "truncated": why })
            }
        }
        Value::String(text) => {
            let mut end = SHRUNK_FIELD_BYTES.min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            Value::String(format!("{}... ({why}; cut)", &text[..end]))
        }
        _ => Value::String(why),
    }
}

/// Publishes `items` as list result `key` (see the module documentation): `results[key]` is the
/// whole JSON list when it fits [`MAX_LIST_CHUNK_BYTES`], else consecutive chunks under `key`,
/// `key-2`, ... plus `key-parts`. Returns the number of parts (1 when not split).
pub fn set_json_list(results: &mut BTreeMap<String, String>, key: &str, items: &[Value]) -> usize {
    let mut chunks: Vec<String> = Vec::new();
    let mut current = String::from("[");
    for item in items {
        let mut text = serde_json::to_string(item).unwrap_or_else(|_| "null".into());
        // "[" + text + "]" must fit a chunk on its own.
        if text.len() + 2 > MAX_LIST_CHUNK_BYTES {
            text = serde_json::to_string(&shrink_entry(item, text.len()))
                .unwrap_or_else(|_| "null".into());
        }
        let extra = text.len() + usize::from(current.len() > 1);
        if current.len() > 1 && current.len() + extra + 1 > MAX_LIST_CHUNK_BYTES {
            current.push(']');
            chunks.push(std::mem::replace(&mut current, String::from("[")));
        }
        if current.len() > 1 {
            current.push(',');
        }
        current.push_str(&text);
    }
    current.push(']');
    chunks.push(current);
    let parts = chunks.len();
    for (i, chunk) in chunks.into_iter().enumerate() {
        results.insert(part_key(key, i + 1), chunk);
    }
    if parts > 1 {
        results.insert(parts_key(key), parts.to_string());
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(results: &BTreeMap<String, String>, key: &str) -> Vec<Value> {
        let parts: usize = results
            .get(&parts_key(key))
            .map_or(1, |n| n.parse().unwrap());
        (1..=parts)
            .flat_map(|n| {
                let chunk = &results[&part_key(key, n)];
                assert!(chunk.len() <= MAX_LIST_CHUNK_BYTES, "{n}: {}", chunk.len());
                serde_json::from_str::<Vec<Value>>(chunk).unwrap()
            })
            .collect()
    }

    #[test]
    fn small_lists_keep_the_one_key() {
        let mut results = BTreeMap::new();
        let items = vec![json!({"a": 1}), json!("b")];
        assert_eq!(set_json_list(&mut results, "requests", &items), 1);
        assert_eq!(results.len(), 1);
        assert_eq!(results["requests"], r#"[{"a":1},"b"]"#);
        assert_eq!(split_note("requests", 1), None);
        let mut results = BTreeMap::new();
        assert_eq!(set_json_list(&mut results, "requests", &[]), 1);
        assert_eq!(results["requests"], "[]");
    }

    #[test]
    fn large_lists_are_split_into_whole_entries_under_the_limit() {
        // 1000 entries of ~330 bytes: ~330 KB, 4 parts.
        let items: Vec<Value> = (0..1000)
            .map(|i| json!({"n": i, "text": format!("{i:0>300}")}))
            .collect();
        let mut results = BTreeMap::new();
        let parts = set_json_list(&mut results, "certificates", &items);
        assert_eq!(parts, 4);
        assert_eq!(results["certificates-parts"], "4");
        assert!(results.contains_key("certificates-4"));
        assert!(!results.contains_key("certificates-5"));
        assert!(!results.contains_key("certificates-1"));
        assert_eq!(joined(&results, "certificates"), items);
        // Parts are filled: each but the last could not take the next entry.
        for n in 1..parts {
            assert!(results[&part_key("certificates", n)].len() + 340 > MAX_LIST_CHUNK_BYTES);
        }
        let note = split_note("certificates", parts).unwrap();
        assert!(
            note.contains("certificates, certificates-2, ..., certificates-4"),
            "{note}"
        );
        assert!(note.contains("certificates-parts=4"), "{note}");
        assert!(split_note("x", 2).unwrap().contains(": x, x-2;"));
    }

    #[test]
    fn an_entry_over_the_limit_alone_is_shrunk_not_fatal() {
        let huge = "h".repeat(300 * 1024);
        let items = vec![
            json!({"relation-id": 3, "unit": "evil/0", "common-name": huge}),
            json!(huge),
            json!({"relation-id": 4}),
        ];
        let mut results = BTreeMap::new();
        set_json_list(&mut results, "requests", &items);
        let got = joined(&results, "requests");
        assert_eq!(got.len(), 3);
        assert_eq!(got[0]["relation-id"], json!(3));
        assert_eq!(got[0]["unit"], json!("evil/0"));
        assert!(got[0].get("common-name").is_none());
        let why = got[0]["truncated"].as_str().unwrap();
        assert!(why.contains("over the 98304-byte limit"), "{why}");
        assert!(why.ends_with("left out: common-name"), "{why}");
        assert!(got[1].as_str().unwrap().len() < 2048);
        assert_eq!(got[2], items[2]);
        // And the results pass the action-set size rules.
        juju_hook::process::action_set_batches(&results).unwrap();
    }
}
