//! Read-only settings from the operator's configuration
//! (`[modules.<name>.settings]`), declared by the module with [`settings!`].
//!
//! The declaration is written into the module as a custom section, so the
//! runtime knows each setting's type, default and range without running the
//! module: `sme` and `smectl check` refuse a configured key the module does
//! not declare, or a value out of its range, naming the module, the key and
//! the configuration line, and `smectl inspect` lists the declarations.
//!
//! ```
//! sme_guest::settings! {
//!     int GRACE_CAP_S = "grace_cap_s", 10, 0..=10,
//!         "Longest grace period a stop asks Docker for, in seconds";
//!     string LABEL = "protected_label", "org.sme.protected",
//!         "Label that protects a container when set to true";
//! }
//!
//! fn cap() -> u32 {
//!     // The configured value, else the declared default.
//!     GRACE_CAP_S.get() as u32
//! }
//! # fn main() {}
//! ```
//!
//! Descriptions and defaults must not contain tabs or newlines (the section
//! is one line per setting).
//!
//! [`settings!`]: crate::settings!

/// The configured value of `key` as text (an integer in decimal, a boolean
/// as `true` or `false`), checked against the module's declaration; none
/// when the operator set nothing.
///
/// ```
/// # sme_guest::testing::Scene::new().setting("grace_cap_s", "5").install();
/// assert_eq!(sme_guest::settings::get("grace_cap_s").as_deref(), Some("5"));
/// assert_eq!(sme_guest::settings::get("verbose"), None);
/// ```
pub fn get(key: &str) -> Option<String> {
    host_call!(
        crate::host::settings::get(key),
        crate::testing::serve("settings::get", |world| world.setting(key))
    )
}

/// An integer setting.
#[derive(Debug, Clone, Copy)]
pub struct Int {
    /// Its key.
    pub key: &'static str,
    /// Its value when none is configured.
    pub default: i64,
    /// Smallest accepted value.
    pub min: i64,
    /// Largest accepted value.
    pub max: i64,
}

impl Int {
    /// The configured value, else the default.
    pub fn get(&self) -> i64 {
        get(self.key)
            .and_then(|text| text.parse().ok())
            .filter(|value| (self.min..=self.max).contains(value))
            .unwrap_or(self.default)
    }
}

/// A text setting.
#[derive(Debug, Clone, Copy)]
pub struct Text {
    /// Its key.
    pub key: &'static str,
    /// Its value when none is configured.
    pub default: &'static str,
}

impl Text {
    /// The configured value, else the default.
    pub fn get(&self) -> String {
        get(self.key).unwrap_or_else(|| self.default.to_owned())
    }
}

/// A boolean setting.
#[derive(Debug, Clone, Copy)]
pub struct Bool {
    /// Its key.
    pub key: &'static str,
    /// Its value when none is configured.
    pub default: bool,
}

impl Bool {
    /// The configured value, else the default.
    pub fn get(&self) -> bool {
        get(self.key)
            .and_then(|text| text.parse().ok())
            .unwrap_or(self.default)
    }
}

/// The bytes of one declaration line, for the custom section.
#[doc(hidden)]
pub const fn section<const N: usize>(text: &str) -> [u8; N] {
    let bytes = text.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// Declares the settings a module reads, each as a constant with a `get`
/// method, and records the declarations in the module's `sme-settings`
/// custom section for the runtime to check the configuration against.
///
/// Each entry is `int NAME = "key", default, min..=max, "description";`,
/// `string NAME = "key", "default", "description";` or
/// `bool NAME = "key", default, "description";`. Keys are lowercase
/// letters, digits and `_`.
///
/// ```
/// sme_guest::settings! {
///     int WINDOW_MS = "cpu_window_ms", 5000, 1000..=120000,
///         "Oldest kept CPU reading measured against, in milliseconds";
///     bool VERBOSE = "verbose", false, "Log every decision";
/// }
/// # fn main() { let _ = (WINDOW_MS, VERBOSE); }
/// ```
#[macro_export]
macro_rules! settings {
    () => {};
    ($($entries:tt)*) => {
        $crate::__sme_settings_consts!($($entries)*);
        // One section for the whole declaration, so the runtime lists the
        // settings in the order written here (the linker orders separate
        // statics of one section as it likes).
        $crate::__sme_setting_section!($crate::__sme_settings_lines!($($entries)*));
    };
}

/// The constants of a [`settings!`] declaration.
#[doc(hidden)]
#[macro_export]
macro_rules! __sme_settings_consts {
    () => {};
    (int $name:ident = $key:literal, $default:literal, $min:literal ..= $max:literal, $doc:literal; $($rest:tt)*) => {
        #[doc = $doc]
        pub const $name: $crate::settings::Int = $crate::settings::Int {
            key: $key,
            default: $default,
            min: $min,
            max: $max,
        };
        $crate::__sme_settings_consts!($($rest)*);
    };
    (string $name:ident = $key:literal, $default:literal, $doc:literal; $($rest:tt)*) => {
        #[doc = $doc]
        pub const $name: $crate::settings::Text = $crate::settings::Text {
            key: $key,
            default: $default,
        };
        $crate::__sme_settings_consts!($($rest)*);
    };
    (bool $name:ident = $key:literal, $default:literal, $doc:literal; $($rest:tt)*) => {
        #[doc = $doc]
        pub const $name: $crate::settings::Bool = $crate::settings::Bool {
            key: $key,
            default: $default,
        };
        $crate::__sme_settings_consts!($($rest)*);
    };
}

/// The `sme-settings` lines of a [`settings!`] declaration, in order, as one
/// string literal.
#[doc(hidden)]
#[macro_export]
macro_rules! __sme_settings_lines {
    () => { "" };
    (int $name:ident = $key:literal, $default:literal, $min:literal ..= $max:literal, $doc:literal; $($rest:tt)*) => {
        concat!(
            $key, "\tint\t", $default, "\t", $min, "\t", $max, "\t", $doc, "\n",
            $crate::__sme_settings_lines!($($rest)*)
        )
    };
    (string $name:ident = $key:literal, $default:literal, $doc:literal; $($rest:tt)*) => {
        concat!(
            $key, "\tstring\t", $default, "\t\t\t", $doc, "\n",
            $crate::__sme_settings_lines!($($rest)*)
        )
    };
    (bool $name:ident = $key:literal, $default:literal, $doc:literal; $($rest:tt)*) => {
        concat!(
            $key, "\tbool\t", $default, "\t\t\t", $doc, "\n",
            $crate::__sme_settings_lines!($($rest)*)
        )
    };
}

/// The declaration lines of one [`settings!`] in the `sme-settings` custom
/// section; the linker joins the sections of every such declaration (and of
/// linked objects) into one.
#[doc(hidden)]
#[macro_export]
macro_rules! __sme_setting_section {
    ($text:expr) => {
        const _: () = {
            const TEXT: &str = $text;
            #[used]
            #[unsafe(link_section = "sme-settings")]
            static SECTION: [u8; TEXT.len()] = $crate::settings::section(TEXT);
        };
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_declaration_is_one_section_in_the_order_written() {
        const LINES: &str = crate::__sme_settings_lines! {
            int WAIT = "wait_ms", 12000, 0..=14000, "Wait";
            string LABEL = "label", "org.sme.x", "Label";
            bool VERBOSE = "verbose", false, "Log more";
        };
        assert_eq!(
            LINES,
            "wait_ms\tint\t12000\t0\t14000\tWait\n\
             label\tstring\torg.sme.x\t\t\tLabel\n\
             verbose\tbool\tfalse\t\t\tLog more\n"
        );
    }
}
