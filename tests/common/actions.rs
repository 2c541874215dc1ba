//! Action results split into parts: a list result `key` too large for one `action-set` argument
//! comes as `key`, `key-2`, ... with `key-parts` giving the count.

use serde_json::Value;
use tls_provider::charm::actions::MAX_LIST_CHUNK_BYTES;

/// The list `key` joined from its `parts` parts (`key`, `key-2`, ..., each looked up with
/// `get`), asserting that every part is there and is a non-empty JSON list of at most
/// [`MAX_LIST_CHUNK_BYTES`], and that there is no part after the last.
pub fn join_list_parts<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
    key: &str,
    parts: usize,
) -> Vec<Value> {
    let mut all = Vec::new();
    for n in 1..=parts {
        let k = if n == 1 {
            key.to_string()
        } else {
            format!("{key}-{n}")
        };
        let chunk = get(&k).unwrap_or_else(|| panic!("result {k} is missing"));
        assert!(
            chunk.len() <= MAX_LIST_CHUNK_BYTES,
            "{k}: {} bytes",
            chunk.len()
        );
        let list: Vec<Value> = serde_json::from_str(chunk).unwrap();
        assert!(!list.is_empty(), "{k} is empty");
        all.extend(list);
    }
    assert!(
        get(&format!("{key}-{}", parts + 1)).is_none(),
        "no stray part after {key}-{parts}"
    );
    all
}
