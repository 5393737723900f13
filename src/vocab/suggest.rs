//! "Did you mean …?" suggestions for near-miss names.

/// The candidate closest to `given`, if it is close enough to be a plausible typo.
pub fn closest<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let given_lower = given.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&given_lower, &c.to_lowercase()), c))
        .filter(|(distance, c)| *distance > 0 && *distance <= (c.chars().count().max(3) / 3).clamp(1, 3))
        .min_by_key(|(distance, c)| (*distance, *c))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn suggests_near_misses_only() {
        assert_eq!(closest("nextclod", ["nextcloud", "website"]), Some("nextcloud"));
        assert_eq!(closest("webiste", ["nextcloud", "website"]), Some("website"));
        assert_eq!(closest("xyz", ["nextcloud", "website"]), None);
        assert_eq!(closest("nme", ["name", "port"]), Some("name"));
    }
}
