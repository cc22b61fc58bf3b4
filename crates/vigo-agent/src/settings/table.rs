//! The table of settings, and the macro that turns it into the flags, the config file,
//! the effective settings and their description.

use std::path::{Path, PathBuf};

use serde::Serialize;
use vigo_lang::yaml::{Node, Pos};

use super::value::{LogLevel, Origin, SettingValue, Unset};
use super::{
    DATA_DIR, SettingInfo, SettingsError, ShownSetting, help_line, read_value, unknown_key,
};

/// The default of a flag setting, for `data_dir`.
macro_rules! default_of {
    (default($e:expr), $dir:expr) => {{
        let _: &Path = $dir;
        $e
    }};
    (in_data_dir($name:literal), $dir:expr) => {
        $dir.join($name)
    };
}

/// Whether `--help` shows a flag setting's default.
macro_rules! default_in_help {
    (default($e:expr)) => {
        true
    };
    (in_data_dir($name:literal)) => {
        false
    };
}

/// Declares every setting once. `flags` settings have a long flag (from the field name)
/// and a config key; `file` settings only a config key (written by register/bootstrap).
macro_rules! settings {
    (
        flags {
            $( #[doc = $doc:literal] $flag:ident : $fty:ty = $value_name:literal, $default:ident $dargs:tt ; )*
        }
        file {
            $( #[doc = $fdoc:literal] $file:ident : $gty:ty ; )*
        }
    ) => {
        /// The global flags that set a setting (all optional: an absent flag falls back to
        /// the config file, then to the default).
        #[derive(Debug, Clone, Default, clap::Args)]
        pub struct SettingFlags {
            $(
                #[doc = $doc]
                #[arg(long, value_name = $value_name, long_help = None::<&str>,
                      help = help_line($doc.trim(), default_in_help!($default $dargs)
                          .then(|| default_of!($default $dargs, Path::new(DATA_DIR)).show())))]
                pub $flag: Option<$fty>,
            )*
        }

        /// The content of `/etc/vigo-envoy/config`. Every key is optional: an absent key
        /// falls back to the default.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
        pub struct ConfigFile {
            $(
                #[doc = $doc]
                #[serde(skip_serializing_if = "Unset::is_unset")]
                pub $flag: Option<$fty>,
            )*
            $(
                #[doc = $fdoc]
                #[serde(skip_serializing_if = "Unset::is_unset")]
                pub $file: $gty,
            )*
        }

        impl ConfigFile {
            /// Sets `key` from `node`, or says the key is unknown.
            pub(super) fn set(
                &mut self,
                path: &Path,
                key: &str,
                pos: Pos,
                node: &Node,
            ) -> Result<(), SettingsError> {
                match key {
                    $( stringify!($flag) => {
                        self.$flag = read_value(path, stringify!($flag), node,
                            <$fty as SettingValue>::EXPECTED)?;
                    } )*
                    $( stringify!($file) => {
                        self.$file = read_value(path, stringify!($file), node,
                            <$gty as SettingValue>::EXPECTED)?;
                    } )*
                    _ => return Err(unknown_key(path, key, pos)),
                }
                Ok(())
            }
        }

        /// The agent's effective settings after precedence.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct Settings {
            $( #[doc = $doc] pub $flag: $fty, )*
            $( #[doc = $fdoc] pub $file: $gty, )*
            /// The agent's data directory (config, certs, keys).
            pub data_dir: PathBuf,
            /// The LMDB state directory.
            pub state_dir: PathBuf,
            /// Where each setting came from.
            pub origins: Origins,
        }

        /// Where each effective setting came from.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct Origins {
            $( #[doc = $doc] pub $flag: Origin, )*
            $( #[doc = $fdoc] pub $file: Origin, )*
        }

        impl Settings {
            /// Resolves flags > config file > defaults.
            pub fn resolve(
                flags: &SettingFlags,
                file: &ConfigFile,
                data_dir: &Path,
                state_dir: &Path,
            ) -> Self {
                let mut origins = Origins::default();
                Settings {
                    $( $flag: match (&flags.$flag, &file.$flag) {
                        (Some(v), _) => {
                            origins.$flag = Origin::Flag;
                            v.clone()
                        }
                        (None, Some(v)) => {
                            origins.$flag = Origin::File;
                            v.clone()
                        }
                        (None, None) => default_of!($default $dargs, data_dir),
                    }, )*
                    $( $file: {
                        if !file.$file.is_unset() {
                            origins.$file = Origin::File;
                        }
                        file.$file.clone()
                    }, )*
                    data_dir: data_dir.to_path_buf(),
                    state_dir: state_dir.to_path_buf(),
                    origins,
                }
            }

            /// Every setting with its value as shown and where it came from, in table
            /// order.
            pub fn shown(&self) -> Vec<ShownSetting> {
                vec![
                    $( ShownSetting {
                        key: stringify!($flag),
                        value: self.$flag.show(),
                        origin: self.origins.$flag,
                        has_flag: true,
                    }, )*
                    $( ShownSetting {
                        key: stringify!($file),
                        value: self.$file.show(),
                        origin: self.origins.$file,
                        has_flag: false,
                    }, )*
                ]
            }
        }

        /// Every setting, in table order, as the docs and `vigo status` describe it.
        pub fn table() -> Vec<SettingInfo> {
            let data_dir = Path::new(DATA_DIR);
            vec![
                $( SettingInfo {
                    key: stringify!($flag),
                    value_name: Some($value_name),
                    doc: $doc.trim_ascii(),
                    default: Some(<$fty as SettingValue>::show(&default_of!($default $dargs, data_dir))),
                    default_in_help: default_in_help!($default $dargs),
                }, )*
                $( SettingInfo {
                    key: stringify!($file),
                    value_name: None,
                    doc: $fdoc.trim_ascii(),
                    default: None,
                    default_in_help: false,
                }, )*
            ]
        }

        /// The sample value of each setting (YAML / flag argument, and as shown), for
        /// the tests that check every setting reaches the effective settings.
        #[cfg(test)]
        pub(super) fn samples() -> Vec<(&'static str, bool, (&'static str, &'static str))> {
            vec![
                $( (stringify!($flag), true, <$fty as SettingValue>::SAMPLE), )*
                $( (stringify!($file), false, <$gty as SettingValue>::SAMPLE), )*
            ]
        }
    };
}

settings! {
    flags {
        /// Server gRPC address
        server: String = "ADDR", default("localhost:1530".to_owned());
        /// CA certificate file
        ca_file: PathBuf = "PATH", in_data_dir("ca.pem");
        /// Client certificate file
        cert_file: PathBuf = "PATH", in_data_dir("cert.pem");
        /// Client key file
        key_file: PathBuf = "PATH", in_data_dir("key.pem");
        /// Log level (trace, debug, info, warn, error)
        log_level: LogLevel = "LEVEL", default(LogLevel::Info);
        /// Server REST API address
        api_addr: String = "URL", default("https://localhost:8443".to_owned());
        /// Custom executor scripts directory
        executors_dir: PathBuf = "PATH", default(PathBuf::from("/etc/vigo-envoy/executors"));
        /// File snapshots directory
        snapshot_dir: PathBuf = "PATH", default(PathBuf::from("/var/lib/vigo/snapshots"));
        /// Max snapshots per file
        snapshot_retention: u32 = "N", default(5);
        /// Trait refresh interval in check-in cycles
        trait_refresh_cycles: u32 = "N", default(10);
        /// Result cache lifetime in cycles
        result_cache_cycles: u32 = "N", default(5);
    }
    file {
        /// The envoy UUID assigned at registration
        envoy_id: Option<String>;
        /// gRPC addresses tried in order when the current server fails
        fallback_servers: Vec<String>;
        /// Address a spanner hub routed this envoy to; dialled instead of `server`
        bolt: Option<String>;
    }
}
