// Twelve-Factor Rust: the presenter view.
//
// Speaker notes (`<details class="speaker-notes">`) are for whoever is at the front of the room, so
// the book hides them from readers. Opening any page with `?presenter` shows them on every page of
// this browser, open, until a page is opened with `?presenter=off`. The choice is kept in
// localStorage so that moving between chapters keeps it; nothing leaves the browser.
(function () {
    "use strict";
    var KEY = "twelve-factor-rust.presenter";
    var params = new URLSearchParams(window.location.search);
    try {
        if (params.has("presenter")) {
            if (params.get("presenter") === "off") {
                window.localStorage.removeItem(KEY);
            } else {
                window.localStorage.setItem(KEY, "on");
            }
        }
    } catch (e) {
        // Storage refused (a private window, say): the query string alone still decides this page.
    }
    var on = params.has("presenter") ? params.get("presenter") !== "off" : false;
    try {
        on = on || window.localStorage.getItem(KEY) === "on";
    } catch (e) {
        // As above.
    }
    if (on) {
        document.documentElement.classList.add("presenter");
        document.addEventListener("DOMContentLoaded", function () {
            document.querySelectorAll("details.speaker-notes").forEach(function (notes) {
                notes.open = true;
            });
        });
    }
    // The cheat sheets' print button prints that page only, not the whole book.
    document.addEventListener("DOMContentLoaded", function () {
        document.querySelectorAll("button.print-this-page").forEach(function (button) {
            button.addEventListener("click", function () {
                window.print();
            });
        });
    });
})();
