#!/usr/bin/env python3
"""Drive the mxpipe web view in a real browser (Debian chromium through Playwright, no browser
download) and check what a person would see.

Usage: web_browser.py SPEC.json

SPEC: {"base", "chromium", "axe" (path to axe.min.js), "screenshots" (folder),
       "token", "other_token" (a read token of another proposal),
       "experiments": [{"uuid", "ordinals": [...], "lookup": {"image": N, "expect": [substrings]}}],
       "processing": [{"uuid", "shells": N}],
       "ssx": [{"uuid", "lattices": N, "frames": N}], "sites": [names]}

Checks: the login form sets an HttpOnly, SameSite=Strict cookie; every page loads with status
200 and no console error or uncaught exception; the timeline has one mark per wedge with the
expected ordinals in order; the image lookup, used with the keyboard only, answers as expected;
each statistics plot has one point per shell; the other proposal's token gets 404 on the same
pages; axe-core finds no serious or critical violation. Screenshots go to the folder.
Prints one line per check; exit 1 on the first failure.
"""
import json
import os
import sys

from playwright.sync_api import sync_playwright


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def ok(message):
    print(f"ok: {message}")


def main():
    spec = json.load(open(sys.argv[1]))
    base = spec["base"]
    os.makedirs(spec["screenshots"], exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=spec["chromium"], headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        # The pages' Content-Security-Policy forbids inline script, and so the injected axe-core:
        # the checker's own context bypasses it (the pages' own code runs under it unchanged, and
        # a console error — a CSP violation among them — fails the visit below).
        context = browser.new_context(viewport={"width": 1200, "height": 900}, bypass_csp=True)
        page = context.new_page()
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))

        def visit(path, name):
            errors.clear()
            response = page.goto(base + path, wait_until="load")
            if response is None or response.status != 200:
                fail(f"{path}: status {response.status if response else None}")
            if errors:
                fail(f"{path}: console errors {errors}")
            page.screenshot(path=os.path.join(spec["screenshots"], name + ".png"), full_page=True)
            axe(path)
            ok(f"{path} loads without console errors")

        def axe(path):
            page.add_script_tag(path=spec["axe"])
            result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
            bad = [(v["id"], v["impact"], len(v["nodes"])) for v in result["violations"]
                   if v["impact"] in ("serious", "critical")]
            if bad:
                fail(f"{path}: axe-core {result['testEngine']['version']} violations {bad}")

        # Sign in with the form; the cookie is HttpOnly and SameSite=Strict.
        page.goto(base + "/experiments")
        if "/login" not in page.url:
            fail(f"an anonymous visit should go to /login, went to {page.url}")
        axe("/login")
        page.fill("#token", spec["token"])
        with page.expect_navigation():
            page.keyboard.press("Enter")
        if not page.url.startswith(base + "/experiments"):
            fail(f"after sign-in expected /experiments, got {page.url}")
        cookie = [c for c in context.cookies() if c["name"] == "mxpipe_token"]
        if not cookie or not cookie[0]["httpOnly"] or cookie[0]["sameSite"] != "Strict":
            fail(f"login cookie {cookie}")
        ok("login sets an HttpOnly, SameSite=Strict cookie")

        visit("/sessions", "sessions")
        visit("/experiments", "experiments")
        links = page.locator("main table a").count()
        if links < len(spec["experiments"]):
            fail(f"the list shows {links} experiments")

        for e in spec["experiments"]:
            path = f"/experiments/{e['uuid']}"
            visit(path, "experiment-" + e["uuid"][:8])
            marks = page.locator("svg.timeline rect.wedge")
            ordinals = [int(marks.nth(i).get_attribute("data-ordinal")) for i in range(marks.count())]
            if ordinals != e["ordinals"]:
                fail(f"{path}: timeline marks {ordinals}, expected {e['ordinals']}")
            ok(f"{path}: {len(ordinals)} timeline marks in acquisition order")
            # The image lookup with the keyboard only: Tab to the box, type, Enter.
            for _ in range(60):
                page.keyboard.press("Tab")
                if page.evaluate("document.activeElement && document.activeElement.id") == "image":
                    break
            else:
                fail(f"{path}: the image box is not reachable with Tab")
            page.keyboard.type(str(e["lookup"]["image"]))
            with page.expect_navigation():
                page.keyboard.press("Enter")
            answer = page.locator("#answer").inner_text()
            for want in e["lookup"]["expect"]:
                if want not in answer:
                    fail(f"{path}: lookup of image {e['lookup']['image']} answered {answer!r}, expected {want!r}")
            ok(f"{path}: image {e['lookup']['image']} → {answer}")

        for pr in spec["processing"]:
            path = f"/processing/{pr['uuid']}"
            visit(path, "processing-" + pr["uuid"][:8])
            plots = page.locator("svg[data-points]")
            if plots.count() == 0:
                fail(f"{path}: no statistics plot")
            for i in range(plots.count()):
                circles = plots.nth(i).locator("circle").count()
                if circles != pr["shells"]:
                    fail(f"{path}: plot {i} has {circles} points, expected {pr['shells']} shells")
            ok(f"{path}: {plots.count()} plots, {pr['shells']} points each")

        for x in spec.get("ssx", []):
            path = f"/ssx/{x['uuid']}"
            visit(path, "ssx-" + x["uuid"][:8])
            hist = page.locator("figure svg[aria-label^='cell a (Å)']")
            if hist.count() != 1 or int(hist.get_attribute("data-values")) != x["lattices"]:
                fail(f"{path}: the cell-a histogram should count {x['lattices']} lattices")
            counted = page.locator("main table").nth(1).locator("tr").nth(1).locator("td").nth(1).inner_text()
            if int(counted) != x["frames"]:
                fail(f"{path}: {counted} frames counted, the stream has {x['frames']}")
            ok(f"{path}: {x['frames']} frames, {x['lattices']} lattices in the histograms")

        if "sites" in spec:
            visit("/sites", "sites")
            for name in spec["sites"]:
                if page.locator(f"figure svg[aria-label^='{name}:']").count() != 1:
                    fail(f"/sites: no resolution histogram for site {name}")
            ok(f"/sites: one resolution histogram per site {spec['sites']}")

        # Another proposal's token: the same pages are not found.
        other = browser.new_context()
        other.add_cookies([{"name": "mxpipe_token", "value": spec["other_token"], "url": base}])
        op = other.new_page()
        for e in spec["experiments"]:
            r = op.goto(f"{base}/experiments/{e['uuid']}")
            if r.status != 404:
                fail(f"another proposal's token got {r.status} for experiment {e['uuid']}")
        for pr in spec["processing"] + spec.get("ssx", []):
            r = op.goto(f"{base}/processing/{pr['uuid']}")
            if r.status != 404:
                fail(f"another proposal's token got {r.status} for processing {pr['uuid']}")
        ok("another proposal's token gets 404 on these pages")
        browser.close()
    print("all browser checks passed")


if __name__ == "__main__":
    main()
