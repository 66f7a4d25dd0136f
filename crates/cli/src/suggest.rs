//! "Did you mean …?" for names that are not flags or subcommands (clap suggests those itself):
//! [`signet_tuf::remedy::closest`] worded for a message.

/// `" (did you mean 'x'?)"` for the closest of `candidates`, or nothing.
pub(crate) fn did_you_mean<'a, I>(given: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    signet_tuf::remedy::closest(given, candidates)
        .map(|name| format!(" (did you mean '{name}'?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_the_closest_name_or_nothing() {
        let keys = ["trust_dir", "remote_server.url"];
        assert_eq!(
            did_you_mean("trustdir", keys),
            " (did you mean 'trust_dir'?)"
        );
        assert_eq!(did_you_mean("zzz", keys), "");
    }
}
