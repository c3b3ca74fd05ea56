//! Goal: every report folder's `report.html` opens offline in a real browser, whole, the
//! answer first, every plot inline, and asks for nothing from anywhere. Method:
//! `tests/browser.sh` with the binary under test: Debian's chromium (installed when missing),
//! headless, name resolution and proxy pointed nowhere, on a run's folder and a swarm
//! campaign's; the DOM's sections in order, the inline plots counted, the console empty, and a
//! copy with one external image planted caught. Its screenshots stay in
//! `target/browser-shots/` for a person to look at.

use crate::support::script;

#[test]
fn report_pages_open_offline_in_a_real_browser() {
    script("tests/browser.sh", None);
}
