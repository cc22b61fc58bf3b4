//! Trait references checked at publish: every `.Traits.<collector>.<field>…` a template or
//! attribute reads must exist in the trait model (`vigo_traits`), or the publish fails
//! with a did-you-mean — a misspelt field would otherwise fail on every envoy.
//!
//! Only the path's own segments are checked: a key the host decides (a device, a
//! mountpoint) or a list index passes, and a `.Traits` used whole (`index .Traits "os"`,
//! `with .Traits.os`) is not followed further.

use crate::template::Template;

/// A trait path that is not in the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRef {
    /// The field path as the template reads it (`Traits.os.famly`).
    pub path: String,
    /// What is wrong, with a did-you-mean when one is close.
    pub message: String,
}

impl BadRef {
    /// The 1-based line and column of the path in the template's `text`, when found.
    pub fn locate(&self, text: &str) -> Option<(usize, usize)> {
        let at = text.find(&format!(".{}", self.path))?;
        let before = &text[..at];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Some((line, col))
    }
}

/// The first trait path of `t` that is not in the model.
pub fn check(t: &Template) -> Option<BadRef> {
    t.field_paths()
        .into_iter()
        .find_map(|path| check_path(&path).map(|message| BadRef { path, message }))
}

/// `path` is a template field path (`Traits.os.family`); anything not under `Traits` is
/// fine here.
pub fn check_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix("Traits.")?;
    let segments: Vec<&str> = rest.split('.').collect();
    let name = segments[0];
    let Some(c) = vigo_traits::find(name) else {
        let hint = vigo_traits::schema::hint(name, vigo_traits::all().iter().map(|c| c.name));
        return Some(format!(
            "`.{path}`: there is no trait collector `{name}`{hint}"
        ));
    };
    let e = (c.shape)().lookup(&segments[1..]).err()?;
    Some(format!(
        "`.{path}`: `{}` is not a field of `.Traits.{}`{}",
        e.segment,
        segments[..=e.depth].join("."),
        e.hint()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_in_the_model_pass() {
        for p in [
            "Vars.anything.at.all",
            "Traits.os.family",
            "Traits.network.interfaces.eth0.mtu",
            "Traits.filesystem./.used_pct",
            "Traits.swap.devices.0.type",
            "Traits.users",
        ] {
            assert_eq!(check_path(p), None, "{p}");
        }
    }

    #[test]
    fn a_misspelt_trait_gets_a_did_you_mean() {
        assert_eq!(
            check_path("Traits.os.famly").as_deref(),
            Some(
                "`.Traits.os.famly`: `famly` is not a field of `.Traits.os` (did you mean `family`?)"
            )
        );
        assert_eq!(
            check_path("Traits.netwrok.hostname").as_deref(),
            Some(
                "`.Traits.netwrok.hostname`: there is no trait collector `netwrok` (did you mean `network`?)"
            )
        );
        assert_eq!(
            check_path("Traits.network.interfaces.eth0.mtux").as_deref(),
            Some(
                "`.Traits.network.interfaces.eth0.mtux`: `mtux` is not a field of `.Traits.network.interfaces.eth0` (did you mean `mtu`?)"
            )
        );
        let text = "{{ .Vars.x }}\n  {{ .Traits.memory.total_mbb }}";
        let bad = check(&Template::parse("t", text).unwrap()).unwrap();
        assert!(bad.message.contains("did you mean `total_mb`?"), "{bad:?}");
        assert_eq!(bad.locate(text), Some((2, 6)));
    }

    /// The loader runs the check on attributes and on template files, saying where.
    #[test]
    fn publish_refuses_a_misspelt_trait() {
        let errors = |files: &[(&str, &str)]| match crate::load(&crate::SourceTree::from_files(
            files.iter().copied(),
        )) {
            Ok(_) => "OK".to_owned(),
            Err(e) => e.to_string(),
        };
        let envoys = (
            "envoys.vgo",
            "envoys:\n  - match: \"*\"\n    configcrates: [c]\n",
        );
        let motd = |content: &str| {
            format!(
                "configcrate: c\nresources:\n  - name: f\n    type: file\n    target_path: /etc/motd\n    state: present\n    content: \"{content}\"\n"
            )
        };
        let good = motd("{{ .Traits.network.hostname }}");
        assert_eq!(errors(&[envoys, ("configcrates/c.vgo", &good)]), "OK");
        let bad = motd("{{ .Traits.network.hostnme }}");
        let e = errors(&[envoys, ("configcrates/c.vgo", &bad)]);
        assert!(
            e.starts_with("configcrates/c.vgo:")
                && e.ends_with(
                    "attribute `content`: `.Traits.network.hostnme`: `hostnme` is not a field of `.Traits.network` (did you mean `hostname`?)"
                ),
            "{e}"
        );
        let e = errors(&[
            envoys,
            ("configcrates/c.vgo", &good),
            ("templates/motd.tmpl", "Welcome\n{{ .Traits.os.famly }}\n"),
        ]);
        assert_eq!(
            e,
            "templates/motd.tmpl:2:4: `.Traits.os.famly`: `famly` is not a field of `.Traits.os` (did you mean `family`?)"
        );
    }
}
