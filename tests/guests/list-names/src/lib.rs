//! Lists every container, stopped ones too, and answers the names of the
//! rows the host returned (only those its grant lets it list), sorted and
//! separated by spaces.

use sme_guest::containers::{self, Filter};

fn run(_request: sme_guest::Request) -> Result<String, String> {
    let filter = Filter {
        name: None,
        label: None,
        all: true,
    };
    let mut names: Vec<String> = containers::list(&filter)?
        .into_iter()
        .map(|row| row.name)
        .collect();
    names.sort();
    Ok(names.join(" "))
}

sme_guest::operation!(run);
