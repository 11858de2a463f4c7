//! Text analysis for the offline scorer: HTML clean-up, case and accent
//! folding, tokenisation, stopword removal and Snowball stemming.

use std::borrow::Cow;
use std::collections::BTreeSet;

use rust_stemmers::{Algorithm, Stemmer};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::eval::Language;

/// HTML elements that students paste by accident, such as `<br>` from a
/// rich-text box. Only these are removed, so that code such as
/// `#include <iostream>` or `vector<int>` keeps its words.
const HTML_ELEMENTS: &[&str] = &[
    "a",
    "b",
    "big",
    "blockquote",
    "br",
    "center",
    "code",
    "div",
    "em",
    "font",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "td",
    "th",
    "tr",
    "tt",
    "u",
    "ul",
];

/// Maximum length of one HTML tag, in bytes. A longer `<...>` span is kept
/// as text.
const MAX_TAG_LEN: usize = 200;

/// Words of the NLTK English stopword list that are kept as content words,
/// because in a short answer they carry its logic: negation, quantity and
/// order, as in "executes at least once" or "not before the loop".
const KEPT_STOPWORDS_EN: &[&str] = &[
    "above", "after", "again", "against", "all", "any", "before", "below", "between", "both",
    "during", "each", "few", "more", "most", "no", "nor", "not", "off", "once", "only", "out",
    "over", "same", "under", "until",
];

/// Words of the NLTK Spanish stopword list that are kept as content words:
/// negation, quantity and order as in [`KEPT_STOPWORDS_EN`], and the nouns
/// `estado` (state) and `sentido` (sense), which the list has as verb forms.
const KEPT_STOPWORDS_ES: &[&str] = &[
    "antes", "contra", "durante", "entre", "estado", "estados", "más", "mucho", "muchos", "nada",
    "ni", "no", "poco", "sentido", "sentidos", "sin", "todo", "todos",
];

/// One content word of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The Snowball stem, lower-cased and without diacritics.
    pub stem: String,
    /// The word as written, lower-cased, with its diacritics.
    pub surface: String,
}

/// Stemmer and stopwords for one language.
struct LanguageTools {
    stemmer: Stemmer,
    /// Stopwords, lower-cased and without diacritics.
    stopwords: BTreeSet<String>,
}

impl LanguageTools {
    fn new(algorithm: Algorithm, code: &str, kept_stopwords: &[&str]) -> Self {
        let stopwords = stop_words::lookup(code)
            .unwrap_or_default()
            .iter()
            .filter(|word| !kept_stopwords.contains(word))
            .map(|word| fold_diacritics(word).into_owned())
            .collect();
        Self {
            stemmer: Stemmer::create(algorithm),
            stopwords,
        }
    }
}

/// Turns text into content-word tokens for English or Spanish. Build it
/// once and reuse it, because it contains the stemmers and the stopword sets.
pub struct TextAnalyzer {
    english: LanguageTools,
    spanish: LanguageTools,
}

impl std::fmt::Debug for TextAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextAnalyzer")
            .field("english_stopwords", &self.english.stopwords.len())
            .field("spanish_stopwords", &self.spanish.stopwords.len())
            .finish()
    }
}

impl Default for TextAnalyzer {
    fn default() -> Self {
        Self::new()
    }
}

impl TextAnalyzer {
    /// Builds the English and Spanish stemmers and stopword sets (NLTK lists).
    pub fn new() -> Self {
        Self {
            english: LanguageTools::new(Algorithm::English, "en", KEPT_STOPWORDS_EN),
            spanish: LanguageTools::new(Algorithm::Spanish, "es", KEPT_STOPWORDS_ES),
        }
    }

    fn tools(&self, language: Language) -> &LanguageTools {
        match language {
            Language::En => &self.english,
            Language::Es => &self.spanish,
        }
    }

    /// Splits `text` into content words: removes HTML tags, decodes HTML
    /// entities, lower-cases, drops stopwords and one-letter words, and
    /// stems each word with the Snowball stemmer of `language`.
    pub fn tokens(&self, text: &str, language: Language) -> Vec<Token> {
        let tools = self.tools(language);
        let without_tags = strip_html_tags(text);
        let decoded = html_escape::decode_html_entities(&without_tags);
        let lower = decoded.to_lowercase();
        let mut tokens = Vec::new();
        for word in lower.split(|c: char| !c.is_alphanumeric()) {
            if word.is_empty() {
                continue;
            }
            let folded = fold_diacritics(word);
            let is_single_letter =
                folded.chars().count() == 1 && !folded.chars().all(|c| c.is_ascii_digit());
            if is_single_letter || tools.stopwords.contains(folded.as_ref()) {
                continue;
            }
            // The Snowball stemmers expect the accented spelling, so the
            // stem is folded after stemming.
            let stem = fold_diacritics(&tools.stemmer.stem(word)).into_owned();
            tokens.push(Token {
                stem,
                surface: word.to_owned(),
            });
        }
        tokens
    }
}

/// Removes diacritics: decomposes `text` (NFKD) and drops combining marks.
pub fn fold_diacritics(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.nfkd().filter(|c| !is_combining_mark(*c)).collect())
}

/// Replaces the opening and closing tags of common formatting elements
/// (`br`, `p`, `div`, `span`, `b`, `i` and the like) with a space and keeps
/// every other `<...>` span, such as `<iostream>`, as it is.
pub fn strip_html_tags(text: &str) -> Cow<'_, str> {
    if !text.contains('<') {
        return Cow::Borrowed(text);
    }
    let mut output = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        output.push_str(&rest[..start]);
        let candidate = &rest[start..];
        match html_tag_len(candidate) {
            Some(len) => {
                output.push(' ');
                rest = &candidate[len..];
            }
            None => {
                output.push('<');
                rest = &candidate[1..];
            }
        }
    }
    output.push_str(rest);
    Cow::Owned(output)
}

/// Returns the byte length of the HTML tag at the start of `text`, if
/// `text` starts with the opening or closing tag of a known element.
fn html_tag_len(text: &str) -> Option<usize> {
    let end = text
        .bytes()
        .take(MAX_TAG_LEN)
        .position(|byte| byte == b'>')?;
    let inner = text[1..end].trim_start_matches('/');
    let name_len = inner
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(inner.len());
    let name = inner[..name_len].to_ascii_lowercase();
    let after_name = &inner[name_len..];
    let ends_name = after_name.is_empty()
        || after_name.starts_with(|c: char| c.is_ascii_whitespace() || c == '/');
    if ends_name && HTML_ELEMENTS.binary_search(&name.as_str()).is_ok() {
        Some(end + 1)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stems(text: &str, language: Language) -> Vec<String> {
        TextAnalyzer::new()
            .tokens(text, language)
            .into_iter()
            .map(|t| t.stem)
            .collect()
    }

    #[test]
    fn html_elements_sorted_for_binary_search() {
        let mut sorted = HTML_ELEMENTS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, HTML_ELEMENTS);
    }

    #[test]
    fn strip_removes_line_breaks() {
        assert_eq!(
            strip_html_tags("one<br>two<BR/>three</p>"),
            "one two three "
        );
    }

    #[test]
    fn strip_keeps_code_angle_brackets() {
        assert_eq!(
            strip_html_tags("#include <iostream>"),
            "#include <iostream>"
        );
        assert_eq!(strip_html_tags("if a < b and b > c"), "if a < b and b > c");
        assert_eq!(strip_html_tags("vector<int> v"), "vector<int> v");
    }

    #[test]
    fn fold_removes_accents() {
        assert_eq!(fold_diacritics("función Ñandú"), "funcion Nandu");
    }

    #[test]
    fn english_tokens_are_stemmed() {
        assert_eq!(
            stems("The variables<br>are STORED in memory", Language::En),
            ["variabl", "store", "memori"]
        );
    }

    #[test]
    fn spanish_tokens_are_stemmed_and_folded() {
        assert_eq!(
            stems(
                "Las funciones recursivas se llaman a sí mismas",
                Language::Es
            ),
            ["funcion", "recurs", "llam", "mism"]
        );
    }

    #[test]
    fn entities_are_decoded() {
        let tokens = TextAnalyzer::new().tokens("a &gt; b &amp;&amp; loop", Language::En);
        let surfaces: Vec<&str> = tokens.iter().map(|t| t.surface.as_str()).collect();
        assert_eq!(surfaces, ["loop"]);
    }
}
