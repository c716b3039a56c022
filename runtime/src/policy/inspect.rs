//! What a component imports and exports, read from the component itself
//! (not from any declaration next to it): for the world check before a run
//! and for `smectl inspect`.

use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::{ComponentFunc, ComponentItem, Type};

use crate::policy::World;
use crate::sandbox::grants::Verb;

/// A component's interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// The policy world it implements, judged by its exports.
    pub world: Option<World>,
    /// Its exports, with their signatures.
    pub exports: Vec<Item>,
    /// Its imports: instances with the functions used from each.
    pub imports: Vec<Item>,
}

/// One import or export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The name (`run`, `sme:policy/containers@0.1.0`, ...).
    pub name: String,
    /// For a function, its signature; for an instance, its functions.
    pub functions: Vec<String>,
}

/// The names of a component's exports.
pub fn export_names(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// Describes a component's imports and exports.
pub fn describe(engine: &Engine, component: &Component) -> Description {
    let ty = component.component_type();
    let item = |name: &str, item: ComponentItem| Item {
        name: name.to_owned(),
        functions: match item {
            ComponentItem::ComponentFunc(func) => vec![signature(&func)],
            ComponentItem::ComponentInstance(instance) => instance
                .exports(engine)
                .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentFunc(_)))
                .map(|(name, _)| name.to_owned())
                .collect(),
            _ => Vec::new(),
        },
    };
    let exports: Vec<Item> = ty.exports(engine).map(|(n, i)| item(n, i.ty)).collect();
    let imports: Vec<Item> = ty.imports(engine).map(|(n, i)| item(n, i.ty)).collect();
    let exports_fn = |name: &str| exports.iter().any(|e| e.name == name);
    let world = [World::Operation, World::Metrics]
        .into_iter()
        .find(|world| exports_fn(world.export()));
    Description {
        world,
        exports,
        imports,
    }
}

/// The verb a host import maps to, for SME's own interfaces.
pub fn verb_of(instance: &str, function: &str) -> Option<Verb> {
    let interface = instance.strip_prefix("sme:policy/")?;
    let interface = interface.split('@').next()?;
    Verb::of_import(interface, function)
}

fn signature(func: &ComponentFunc) -> String {
    let params: Vec<String> = func
        .params()
        .map(|(name, ty)| format!("{name}: {}", type_name(&ty)))
        .collect();
    let results: Vec<String> = func.results().map(|ty| type_name(&ty)).collect();
    match results.as_slice() {
        [] => format!("func({})", params.join(", ")),
        [one] => format!("func({}) -> {one}", params.join(", ")),
        many => format!("func({}) -> ({})", params.join(", "), many.join(", ")),
    }
}

/// A short structural name of a component type (WIT names are not kept).
fn type_name(ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::S8 => "s8".into(),
        Type::U8 => "u8".into(),
        Type::S16 => "s16".into(),
        Type::U16 => "u16".into(),
        Type::S32 => "s32".into(),
        Type::U32 => "u32".into(),
        Type::S64 => "s64".into(),
        Type::U64 => "u64".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::List(list) => format!("list<{}>", type_name(&list.ty())),
        Type::Option(option) => format!("option<{}>", type_name(&option.ty())),
        Type::Result(result) => {
            let side = |ty: Option<Type>| ty.as_ref().map_or_else(|| "_".to_owned(), type_name);
            format!("result<{}, {}>", side(result.ok()), side(result.err()))
        }
        Type::Record(record) => {
            let fields: Vec<&str> = record.fields().map(|field| field.name).collect();
            format!("record{{{}}}", fields.join(", "))
        }
        Type::Tuple(_) => "tuple".into(),
        Type::Variant(_) => "variant".into(),
        Type::Enum(_) => "enum".into(),
        Type::Flags(_) => "flags".into(),
        Type::Own(_) | Type::Borrow(_) => "resource".into(),
        _ => "other".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every function of every interface in `wit/`, as `(interface,
    /// function)`.
    fn wit_functions() -> Vec<(String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
        let mut functions = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let mut interface = None;
            for line in text.lines().map(str::trim) {
                if let Some(rest) = line.strip_prefix("interface ") {
                    interface = rest.split_whitespace().next().map(str::to_owned);
                } else if let (Some(interface), Some((name, _))) =
                    (&interface, line.split_once(": func"))
                {
                    let name = name.trim().trim_start_matches('%');
                    functions.push((interface.clone(), name.to_owned()));
                } else if line.starts_with("world ") {
                    interface = None;
                }
            }
        }
        functions
    }

    #[test]
    fn every_host_function_of_the_wit_has_a_verb_but_a_modules_own_settings() {
        let functions = wit_functions();
        assert!(functions.len() > 20, "{functions:?}");
        for (interface, function) in functions {
            let verb = verb_of(&format!("sme:policy/{interface}@0.1.0"), &function);
            assert_eq!(
                verb.is_some(),
                interface != "settings",
                "{interface}.{function}: add it to the verb table (sandbox/grants.rs)"
            );
        }
    }

    #[test]
    fn host_imports_map_to_verbs() {
        assert_eq!(
            verb_of("sme:policy/containers@0.1.0", "stop"),
            Some(Verb::Stop)
        );
        assert_eq!(
            verb_of("sme:policy/stats@0.1.0", "recent"),
            Some(Verb::Stats)
        );
        assert_eq!(
            verb_of("sme:policy/services@0.1.0", "scale"),
            Some(Verb::Scale)
        );
        assert_eq!(
            verb_of("sme:policy/services@0.1.0", "task-stats"),
            Some(Verb::Stats)
        );
        assert_eq!(
            verb_of("wasi:cli/environment@0.2.6", "get-environment"),
            None
        );
    }
}
