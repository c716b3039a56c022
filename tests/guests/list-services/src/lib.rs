//! Lists every Swarm service and answers the names of the rows the host
//! returned (only those its grant lets it list), sorted and separated by
//! spaces.

use sme_guest::services::{self, Filter};

fn run(_request: sme_guest::Request) -> Result<String, String> {
    let filter = Filter {
        name: None,
        label: None,
    };
    let mut names: Vec<String> = services::list(&filter)?
        .into_iter()
        .map(|row| row.name)
        .collect();
    names.sort();
    Ok(names.join(" "))
}

sme_guest::operation!(run);
