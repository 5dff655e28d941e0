//! Pictures that read in both themes: every SVG draws its own white background first, has a title
//! and a description, and its text and line colours reach WCAG contrast against white.

/// What keeps a picture from reading in both themes: it must start with its own white background
/// (`<rect … fill="#ffffff" …>` before anything else is drawn), have a title and a description,
/// and every colour its text uses must reach 4.5:1 against white, every line colour 3:1.
pub fn svg_problems(svg: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for tag in ["<title", "<desc"] {
        if !svg.contains(tag) {
            problems.push(format!("no {tag}> (screen readers read it)"));
        }
    }
    // The first drawn element: skip the root, metadata, styles, definitions and comments.
    let mut rest = svg.split_once("<svg").map_or("", |(_, rest)| rest);
    let first_drawn = loop {
        let Some(at) = rest.find('<') else { break None };
        rest = &rest[at..];
        let skip_to = |end: &str| rest.find(end).map(|i| i + end.len());
        let next = if rest.starts_with("<!--") {
            skip_to("-->")
        } else if rest.starts_with("<svg") {
            skip_to(">")
        } else if ["<title", "<desc", "<style", "<defs", "<metadata"]
            .iter()
            .any(|tag| rest.starts_with(tag))
        {
            let name: String = rest[1..]
                .chars()
                .take_while(|c| c.is_alphanumeric())
                .collect();
            skip_to(&format!("</{name}>"))
        } else {
            break rest.split('>').next();
        };
        match next {
            Some(end) => rest = &rest[end..],
            None => break None,
        }
    };
    let background = first_drawn.is_some_and(|tag| {
        tag.starts_with("<rect")
            && (tag.contains("fill=\"#ffffff\"") || tag.contains("fill=\"#fff\""))
            && tag.contains("width=\"100%\"")
            && tag.contains("height=\"100%\"")
    });
    if !background {
        problems.push(format!(
            "the first thing drawn must be its own background, <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\" rx=\"12\"/>; it is {}",
            first_drawn.unwrap_or("nothing")
        ));
    }
    for (colour, role) in text_and_line_colours(svg) {
        let Some(ratio) = contrast_with_white(&colour) else {
            problems.push(format!(
                "{role} colour {colour} is not a #rgb or #rrggbb colour"
            ));
            continue;
        };
        let minimum = if role == "text" { 4.5 } else { 3.0 };
        if ratio < minimum {
            problems.push(format!(
                "{role} colour {colour} has a contrast of {ratio:.1}:1 on the white background (at least {minimum}:1)"
            ));
        }
    }
    problems
}

/// `(colour, "text" | "line")` for every text fill and every stroke: fills in CSS rules that
/// style `text` or a class used on a `<text>`, `fill="…"` on `<text>`/`<tspan>`, and strokes.
fn text_and_line_colours(svg: &str) -> Vec<(String, &'static str)> {
    let mut found = Vec::new();
    let text_classes: Vec<String> = svg
        .split("<text")
        .skip(1)
        .chain(svg.split("<tspan").skip(1))
        .filter_map(|rest| {
            let tag = rest.split('>').next()?;
            let (_, class) = tag.split_once("class=\"")?;
            Some(class.split('"').next()?.to_string())
        })
        .flat_map(|classes| {
            classes
                .split_whitespace()
                .map(|class| format!(".{class}"))
                .collect::<Vec<_>>()
        })
        .collect();
    if let Some((_, style)) = svg.split_once("<style")
        && let Some((style, _)) = style.split_once("</style>")
    {
        for rule in style.split('}') {
            let Some((selector, body)) = rule.split_once('{') else {
                continue;
            };
            let selector = selector.trim().trim_start_matches('>').trim();
            let styles_text = selector.split(',').any(|part| {
                let part = part.trim();
                part == "text" || part == "tspan" || text_classes.iter().any(|class| class == part)
            });
            for declaration in body.split(';') {
                let Some((property, value)) = declaration.split_once(':') else {
                    continue;
                };
                let value = value.trim().to_string();
                match property.trim() {
                    "fill" if styles_text && value.starts_with('#') => found.push((value, "text")),
                    "stroke" if value.starts_with('#') => found.push((value, "line")),
                    _ => {}
                }
            }
        }
    }
    for (tag, role) in [("<text", "text"), ("<tspan", "text")] {
        for rest in svg.split(tag).skip(1) {
            let element = rest.split('>').next().unwrap_or_default();
            if let Some((_, fill)) = element.split_once(" fill=\"") {
                found.push((fill.split('"').next().unwrap_or_default().to_string(), role));
            }
        }
    }
    for rest in svg.split(" stroke=\"").skip(1) {
        let value = rest.split('"').next().unwrap_or_default();
        if value.starts_with('#') {
            found.push((value.to_string(), "line"));
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The WCAG contrast ratio of `#rgb`/`#rrggbb` against white.
pub fn contrast_with_white(colour: &str) -> Option<f64> {
    let hex = colour.strip_prefix('#')?;
    let hex: String = match hex.len() {
        3 => hex.chars().flat_map(|c| [c, c]).collect(),
        6 => hex.to_string(),
        _ => return None,
    };
    let channel = |at: usize| -> Option<f64> {
        let value = f64::from(u8::from_str_radix(hex.get(at..at + 2)?, 16).ok()?) / 255.0;
        Some(if value <= 0.039_28 {
            value / 12.92
        } else {
            ((value + 0.055) / 1.055).powf(2.4)
        })
    };
    let luminance = 0.2126 * channel(0)? + 0.7152 * channel(2)? + 0.0722 * channel(4)?;
    Some(1.05 / (luminance + 0.05))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrast_is_computed_as_wcag_does() {
        assert!((contrast_with_white("#000000").unwrap() - 21.0).abs() < 0.01);
        assert!((contrast_with_white("#fff").unwrap() - 1.0).abs() < 0.01);
        let grey = contrast_with_white("#767676").unwrap();
        assert!((4.5..4.6).contains(&grey), "{grey}");
        assert_eq!(contrast_with_white("grey"), None);
    }

    #[test]
    fn a_picture_needs_its_background_and_readable_colours() {
        let good = r##"<svg xmlns="http://www.w3.org/2000/svg"><title>t</title><desc>d</desc>
<!-- background -->
<rect width="100%" height="100%" fill="#ffffff" rx="12"/>
<style> text { fill: #333333; } .soft { fill: #888888; } .line { stroke: #555; } </style>
<text class="body">hi</text><rect class="soft"/></svg>"##;
        assert!(svg_problems(good).is_empty(), "{:?}", svg_problems(good));
        let pale_text = good.replace("<text class=\"body\">", "<text class=\"soft\">");
        assert!(
            svg_problems(&pale_text)[0].contains("text colour #888888"),
            "{:?}",
            svg_problems(&pale_text)
        );
        let no_background = good.replace(
            "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\" rx=\"12\"/>",
            "",
        );
        assert!(svg_problems(&no_background)[0].contains("own background"));
        let pale_line = good.replace("stroke: #555", "stroke: #cccccc");
        assert!(svg_problems(&pale_line)[0].contains("line colour #cccccc"));
    }
}
