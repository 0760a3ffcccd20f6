//! The page shell every Hub page shares: the header with the navigation and who is signed
//! in, the sign-out form, the stylesheet and the script. Nothing inline: the CSP forbids it.

use maud::{DOCTYPE, Markup, html};

use super::session::Viewer;

/// The sections of the navigation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Overview,
    Subscriptions,
    Deliveries,
    Events,
    Support,
}

const SECTIONS: [(Section, &str, &str); 5] = [
    (Section::Overview, "/hub", "Overview"),
    (
        Section::Subscriptions,
        "/hub/subscriptions",
        "Subscriptions",
    ),
    (Section::Deliveries, "/hub/deliveries", "Deliveries"),
    (Section::Events, "/hub/events", "Events"),
    (Section::Support, "/hub/support", "Support"),
];

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Herald Hub" }
            link rel="stylesheet" href="/hub/assets/hub.css";
            script src="/hub/assets/hub.js" defer {}
        }
    }
}

/// A page for a signed-in viewer.
pub fn page(viewer: &Viewer, section: Section, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/hub" { "Herald Hub" }
                    nav aria-label="Main" {
                        ul {
                            @for (s, href, label) in SECTIONS {
                                li { a href=(href) aria-current=[(s == section).then_some("page")] { (label) } }
                            }
                        }
                    }
                    div.who {
                        @match &viewer.tenant_name {
                            Some(name) => span { "Signed in as " strong { (name) } },
                            None => span { "Signed in as " strong { "operator" } },
                        }
                        form method="post" action="/hub/signout" {
                            input type="hidden" name="csrf" value=(viewer.csrf);
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main #main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A page for someone not signed in (the sign-in page).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                main #main.narrow { (body) }
            }
        }
    }
}

/// A refused form: one sentence, and the way back.
pub fn refusal(sentence: &str) -> Markup {
    bare(
        "Refused",
        html! {
            h1 { "Refused" }
            p.error role="alert" { (sentence) }
            p { a href="/hub" { "Back to the Hub" } }
        },
    )
}
