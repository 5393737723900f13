//! French for the messages a newcomer meets first: description errors and SSH refusals.
//!
//! Messages are written in English where they are made; the CLI translates them when it
//! prints, by pattern (`{}` stands for any text, kept as is). A message without a French
//! pattern stays in English. The language comes from `--lang`, else `LC_ALL`,
//! `LC_MESSAGES` or `LANG`.

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    En,
    Fr,
}

impl Lang {
    /// The language of the environment (`fr_FR.UTF-8` and the like give French).
    pub fn from_environment() -> Self {
        for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Some(value) = std::env::var_os(var).filter(|v| !v.is_empty()) {
                return if value.to_string_lossy().starts_with("fr") { Lang::Fr } else { Lang::En };
            }
        }
        Lang::En
    }
}

/// (English, French) patterns.
const FRENCH: &[(&str, &str)] = &[
    // Description: syntax and types.
    ("unknown key {}: this mapping takes no keys", "clé inconnue {} : ce bloc n'accepte aucune clé"),
    ("unknown key {}", "clé inconnue {}"),
    ("unknown value {}", "valeur inconnue {}"),
    ("did you mean {}?", "vouliez-vous dire {} ?"),
    ("expected one of: {}", "valeurs possibles : {}"),
    ("duplicate key {}", "clé {} en double"),
    (
        "a key may appear only once in a mapping: keep one of them",
        "une clé ne peut apparaître qu'une fois dans un bloc : n'en gardez qu'une",
    ),
    ("not a boolean", "ce n'est pas un booléen"),
    (
        "write true or false (yes/no/on/off are not booleans here, to avoid surprises)",
        "écrivez true ou false (yes/no/on/off ne sont pas des booléens ici, pour éviter les surprises)",
    ),
    ("file is empty", "le fichier est vide"),
    (
        "start from `chaton init`, or copy examples/amipo/hoster.yml",
        "partez de `chaton init`, ou copiez examples/amipo/hoster.yml",
    ),
    ("missing key {}", "clé {} manquante"),
    (
        "unknown language {}: the pages are in French and English (`fr`, `en`)",
        "langue inconnue {} : les pages sont en français et en anglais (`fr`, `en`)",
    ),
    (
        "missing {}: give the text in both languages, or one string for both",
        "il manque {} : donnez le texte dans les deux langues, ou un seul texte pour les deux",
    ),
    ("add {}: to this mapping", "ajoutez {}: à ce bloc"),
    (
        "add {} at the top level of the file, without indentation",
        "ajoutez {} au premier niveau du fichier, sans indentation",
    ),
    ("a value is missing here", "il manque une valeur ici"),
    ("write a value after the colon, or remove the key", "écrivez une valeur après les deux-points, ou retirez la clé"),
    ("expected a list here", "une liste est attendue ici"),
    ("write one item per line, each starting with `- `", "écrivez un élément par ligne, chacun commençant par `- `"),
    ("expected a mapping here", "un bloc de `clé: valeur` est attendu ici"),
    (
        "write `key: value` lines, indented under their parent",
        "écrivez des lignes `clé: valeur`, indentées sous leur parent",
    ),
    ("expected a whole number{}", "un nombre entier est attendu{}"),
    // YAML syntax.
    (
        "a tab in the indentation of line {} (column {})",
        "une tabulation dans l'indentation de la ligne {} (colonne {})",
    ),
    (
        "YAML indents with spaces only: replace the tab with spaces, as many as the lines around use",
        "YAML n'indente qu'avec des espaces : remplacez la tabulation par autant d'espaces que les lignes voisines",
    ),
    ("the line reads {} (→ is the tab)", "la ligne est {} (→ est la tabulation)"),
    ("a `: ` inside a value that is not in quotes", "un `: ` dans une valeur qui n'est pas entre guillemets"),
    ("put the value in quotes: {}", "mettez la valeur entre guillemets : {}"),
    ("this line does not line up with the keys around it", "cette ligne n'est pas alignée avec les clés voisines"),
    (
        "check its indentation against the line above: keys of one mapping start in the same column",
        "comparez son indentation à la ligne du dessus : les clés d'un même bloc commencent à la même colonne",
    ),
    ("a key without its colon", "une clé sans ses deux-points"),
    (
        "write `key: value`, with a colon and a space after the key",
        "écrivez `clé: valeur`, avec deux-points et une espace après la clé",
    ),
    ("a quote opened here is never closed", "un guillemet ouvert ici n'est jamais fermé"),
    ("add the closing quote at the end of the value", "ajoutez le guillemet fermant à la fin de la valeur"),
    ("a `{}` opened here is never closed", "un `{}` ouvert ici n'est jamais fermé"),
    (
        "add the closing `{}`, or write the items one per line instead",
        "ajoutez le `{}` fermant, ou écrivez plutôt un élément par ligne",
    ),
    ("more than one YAML document in the file", "plus d'un document YAML dans le fichier"),
    (
        "file mode written as a bare number ({}): YAML reads it as a decimal number, not octal",
        "mode de fichier écrit comme un nombre ({}) : YAML le lit en décimal, pas en octal",
    ),
    ("quote it: mode: {}", "mettez-le entre guillemets : mode: {}"),
    ("file is not UTF-8 text", "le fichier n'est pas du texte UTF-8"),
    ("file is larger than {} MiB", "le fichier dépasse {} Mio"),
    ("cannot read {}: no such file", "impossible de lire {} : fichier introuvable"),
    (
        "check the path; `chaton init` writes a new description",
        "vérifiez le chemin ; `chaton init` écrit une nouvelle description",
    ),
    // Description: meaning.
    ("unknown recipe {}", "recette inconnue {}"),
    ("unknown server {}", "serveur inconnu {}"),
    ("available recipes: {}", "recettes disponibles : {}"),
    ("servers described: {}", "serveurs décrits : {}"),
    ("{} is not a valid domain name", "{} n'est pas un nom de domaine valide"),
    ("domain names are written in lower case: {}", "les noms de domaine s'écrivent en minuscules : {}"),
    ("domain {} is already claimed by {}", "le domaine {} est déjà pris par {}"),
    ("each service needs its own domain", "chaque service a besoin de son propre domaine"),
    ("{} is not a country code", "{} n'est pas un code de pays"),
    ("country codes are upper case: {}", "les codes de pays s'écrivent en majuscules : {}"),
    (
        "use the two-letter ISO 3166-1 code, such as FR, BE, CH or CA",
        "utilisez le code ISO 3166-1 à deux lettres, comme FR, BE, CH ou CA",
    ),
    ("{} is not a date", "{} n'est pas une date"),
    ("write it as YYYY-MM-DD, such as 2024-09-01", "écrivez-la AAAA-MM-JJ, par exemple 2024-09-01"),
    ("missing `organisation.{}`", "`organisation.{}` manquant"),
    ("add it: the charter pages publish it", "ajoutez-le : les pages de la charte le publient"),
    ("{} is not an email address", "{} n'est pas une adresse e-mail"),
    ("{} is not a web address", "{} n'est pas une adresse web"),
    ("recipe {} needs a `domain`", "la recette {} a besoin d'un `domain`"),
    ("recipe {} has no parameter {}", "la recette {} n'a pas de paramètre {}"),
    ("service {} is described twice", "le service {} est décrit deux fois"),
    ("server {} is described twice", "le serveur {} est décrit deux fois"),
    ("not an OpenSSH public key", "ce n'est pas une clé publique OpenSSH"),
    ("in `{}`", "dans `{}`"),
    ("{} error(s), {} warning(s): nothing was changed", "{} erreur(s), {} avertissement(s) : rien n'a été modifié"),
    ("{} error(s): nothing was changed", "{} erreur(s) : rien n'a été modifié"),
    // SSH.
    ("cannot connect to {}: {}", "impossible de se connecter à {} : {}"),
    ("cannot log in to {} as {}: {}", "impossible de s'identifier sur {} en tant que {} : {}"),
    ("the host key of {} is not known", "la clé d'hôte de {} est inconnue"),
    ("  {} key fingerprint: {}", "  empreinte de la clé {} : {}"),
    (
        "  to trust it after checking this fingerprint with the provider, run again with --accept-new, or pin it in the description: host_key: {}",
        "  pour lui faire confiance après avoir vérifié cette empreinte auprès de l'hébergeur, relancez avec --accept-new, ou fixez-la dans la description : host_key: {}",
    ),
    ("WARNING: THE HOST KEY OF {} HAS CHANGED", "ATTENTION : LA CLÉ D'HÔTE DE {} A CHANGÉ"),
    ("  it now presents {}, which does not match {}.", "  il présente maintenant {}, qui ne correspond pas à {}."),
    (
        "  Someone may be intercepting the connection, or the server was reinstalled.",
        "  Quelqu'un intercepte peut-être la connexion, ou le serveur a été réinstallé.",
    ),
    (
        "  chaton refuses to connect. If the change is expected, remove the old key from {} after checking the new fingerprint.",
        "  chaton refuse de se connecter. Si le changement est attendu, retirez l'ancienne clé de {} après avoir vérifié la nouvelle empreinte.",
    ),
    ("the host key of {} is REVOKED", "la clé d'hôte de {} est RÉVOQUÉE"),
    ("  it presents {}, marked @revoked in {}.", "  il présente {}, marquée @revoked dans {}."),
    ("  chaton refuses to connect.", "  chaton refuse de se connecter."),
    ("{} of {} server(s) failed: {}", "{} serveur(s) sur {} en échec : {}"),
];

/// Matches `text` against `pattern`, returning the texts that stand for each `{}`.
fn captures<'a>(pattern: &str, text: &'a str) -> Option<Vec<&'a str>> {
    let parts: Vec<&str> = pattern.split("{}").collect();
    let mut rest = text.strip_prefix(parts[0])?;
    let mut found = Vec::new();
    for (i, part) in parts.iter().enumerate().skip(1) {
        let last = i == parts.len() - 1;
        let end = if last {
            if !rest.ends_with(part) {
                return None;
            }
            rest.len() - part.len()
        } else if part.is_empty() {
            return None;
        } else {
            rest.find(part)?
        };
        found.push(&rest[..end]);
        rest = &rest[end + part.len()..];
    }
    if parts.len() == 1 && !rest.is_empty() {
        return None;
    }
    Some(found)
}

fn fill(pattern: &str, values: &[&str]) -> String {
    let mut out = String::new();
    for (i, part) in pattern.split("{}").enumerate() {
        if i > 0 {
            out.push_str(values.get(i - 1).copied().unwrap_or_default());
        }
        out.push_str(part);
    }
    out
}

/// Translates a message, line by line; lines without a pattern stay as they are.
pub(crate) fn translate(lang: Lang, text: &str) -> String {
    if lang == Lang::En {
        return text.to_owned();
    }
    text.split('\n')
        .map(|line| {
            FRENCH
                .iter()
                .find_map(|(en, fr)| captures(en, line).map(|values| fill(fr, &values)))
                .unwrap_or_else(|| line.to_owned())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_by_pattern() {
        assert_eq!(translate(Lang::Fr, "unknown recipe \"nextclod\""), "recette inconnue \"nextclod\"");
        assert_eq!(translate(Lang::Fr, "did you mean \"nextcloud\"?"), "vouliez-vous dire \"nextcloud\" ?");
        assert_eq!(
            translate(Lang::Fr, "recipe \"website\" has no parameter \"indx\""),
            "la recette \"website\" n'a pas de paramètre \"indx\""
        );
        assert_eq!(translate(Lang::Fr, "not a boolean"), "ce n'est pas un booléen");
        assert_eq!(translate(Lang::Fr, "not a boolean at all"), "not a boolean at all");
        assert_eq!(translate(Lang::Fr, "something new"), "something new");
        assert_eq!(translate(Lang::En, "unknown recipe \"x\""), "unknown recipe \"x\"");
        assert_eq!(
            translate(Lang::Fr, "2 error(s), 1 warning(s): nothing was changed"),
            "2 erreur(s), 1 avertissement(s) : rien n'a été modifié"
        );
    }
}
