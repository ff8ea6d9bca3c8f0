//! Findings as SARIF 2.1.0, for code-review tools.

use serde_json::{json, Value};

use crate::rules::{self, Severity};
use crate::Finding;

/// A SARIF 2.1.0 log with one run: every rule in `tool.driver.rules`, every finding a result
/// pointing at its file and line.
pub fn to_sarif(findings: &[Finding]) -> Value {
    let all = rules::all();
    let mut rule_ids: Vec<&str> = all.iter().map(|r| r.id()).collect();
    rule_ids.push("bad-allow");
    let descriptors: Vec<Value> = all
        .iter()
        .map(|r| {
            json!({
                "id": r.id(),
                "name": r.id(),
                "shortDescription": {"text": r.why()},
                "helpUri": format!("https://github.com/retort-rs/retort#{}", r.id()),
            })
        })
        .chain(std::iter::once(json!({
            "id": "bad-allow",
            "name": "bad-allow",
            "shortDescription": {"text": "an excuse without a reason cannot be reviewed"},
        })))
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let mut text = f.message.clone();
            text.push_str(". Instead: ");
            text.push_str(&f.fix);
            json!({
                "ruleId": f.rule,
                "ruleIndex": rule_ids.iter().position(|r| *r == f.rule).unwrap_or(0),
                "level": match f.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "message": {"text": text},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.file.to_string_lossy().replace('\\', "/")},
                        "region": {"startLine": f.line.max(1)},
                    }
                }],
                "properties": {
                    "lock": f.lock.map(|l| l.sql_name()),
                    "work": f.work,
                    "relation": f.relation,
                    "tableBytes": f.table_bytes,
                    "tableRows": f.table_rows,
                },
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "retort",
                "informationUri": "https://github.com/retort-rs/retort",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": descriptors,
            }},
            "results": results,
        }],
    })
}
