//! The metric values a module returns, rendered into the object the agent
//! reads. The input is one field per line, `name<TAB>kind<TAB>value`, kind
//! one of `number`, `integer`, `text`, `boolean`, `json`; a line `--`
//! starts the next module's fields. What renders is one JSON object within
//! the output limit every module shares.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sme::contract::{Metric, MetricValue};
use sme::run::metrics::{ModuleFields, render};

/// The output limit of each module: small, so the limit is reached too.
const LIMIT: usize = 4096;

fn value(kind: &str, text: &str) -> Option<MetricValue> {
    Some(match kind {
        "number" => MetricValue::Number(text.parse().ok()?),
        "integer" => MetricValue::Integer(text.parse().ok()?),
        "boolean" => MetricValue::Boolean(text.parse().ok()?),
        "json" => MetricValue::Json(text.to_owned()),
        _ => MetricValue::Text(text.to_owned()),
    })
}

fuzz_target!(|text: &str| {
    let mut modules = vec![ModuleFields {
        module: "metrics".to_owned(),
        output_limit: LIMIT,
        fields: Vec::new(),
    }];
    for line in text.split('\n') {
        if line == "--" {
            let module = format!("add-on-{}", modules.len());
            modules.push(ModuleFields {
                module,
                output_limit: LIMIT,
                fields: Vec::new(),
            });
            continue;
        }
        let mut parts = line.splitn(3, '\t');
        let (Some(name), Some(kind), Some(text)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if let Some(value) = value(kind, text) {
            let fields = &mut modules.last_mut().unwrap().fields;
            fields.push(Metric {
                name: name.to_owned(),
                value,
            });
        }
    }
    if let Ok(object) = render(&modules) {
        let parsed: serde_json::Value =
            serde_json::from_str(&object).unwrap_or_else(|error| panic!("{error}: {object}"));
        assert!(parsed.is_object(), "{object}");
        assert!(object.len() <= LIMIT, "{} bytes", object.len());
    }
});
