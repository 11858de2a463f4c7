//! Helpers for files that people open in spreadsheets.

/// Returns `cell` made safe for a spreadsheet: text that a spreadsheet would
/// run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage
/// return) gets a leading `'`, while numbers, including negative ones such
/// as `-12.50`, are returned unchanged so they stay numbers.
pub fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && !is_plain_number(cell) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// Returns `cell` made safe for a spreadsheet when the column always
/// contains text, such as a name: any cell starting with `=`, `+`, `-`, `@`, a tab or
/// a carriage return gets a leading `'`, including one that looks like a
/// number, so a client named `+1` stays the text `+1`.
pub fn spreadsheet_text(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// Returns whether `text` is a plain decimal number: optional sign, digits,
/// optional fraction. Exponents and thousands separators are not numbers here.
fn is_plain_number(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (whole, fraction) = match digits.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (digits, None),
    };
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_prefixed() {
        for cell in [
            "=HYPERLINK(\"http://x\",\"y\")",
            "@SUM(1+1)",
            "+1+1",
            "\t=1+1",
            "\r=1",
            "-1+2",
            "=1",
        ] {
            assert_eq!(spreadsheet_safe(cell), format!("'{cell}"), "{cell:?}");
        }
    }

    #[test]
    fn numbers_stay_numbers() {
        for cell in ["-12.50", "12.50", "0", "-3", "+4", "100"] {
            assert_eq!(spreadsheet_safe(cell), cell, "{cell:?}");
        }
    }

    #[test]
    fn text_cells_prefix_number_lookalikes() {
        for cell in ["+1", "-12.50", "=1", "@x", "\t=1+1"] {
            assert_eq!(spreadsheet_text(cell), format!("'{cell}"), "{cell:?}");
        }
        assert_eq!(spreadsheet_text("12"), "12");
        assert_eq!(spreadsheet_text("Colegio"), "Colegio");
    }

    #[test]
    fn ordinary_text_is_unchanged() {
        for cell in ["Colegio San José", "a=b", "", "1e5"] {
            assert_eq!(spreadsheet_safe(cell), cell, "{cell:?}");
        }
    }
}
