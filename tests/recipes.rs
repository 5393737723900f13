//! The built-in recipes load, are consistent, and carry the charter metadata.

use chaton::recipe::Catalogue;
use chaton::recipe::check::check_recipe;

#[test]
fn builtin_recipes_load_and_pass_their_own_checks() {
    let catalogue = Catalogue::builtin().unwrap_or_else(|d| panic!("{d:?}"));
    let names: Vec<&str> = catalogue.names().collect();
    assert!(names.contains(&"base") && names.contains(&"website"), "{names:?}");
    for loaded in catalogue.recipes() {
        let problems = check_recipe(loaded, &catalogue);
        assert!(problems.is_empty(), "{}: {problems:?}", loaded.recipe.name);
    }
}

#[test]
fn builtin_recipes_state_their_charter_metadata() {
    let catalogue = Catalogue::builtin().unwrap();
    for loaded in catalogue.recipes() {
        let r = &loaded.recipe;
        assert!(!r.software.licence.is_empty(), "{}", r.name);
        assert!(r.software.source.starts_with("https://"), "{}", r.name);
        assert!(!r.data.personal.en.is_empty() && !r.data.personal.fr.is_empty(), "{}", r.name);
    }
}
