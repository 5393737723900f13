// Loads every page of a built charter site in headless Chromium (Debian's package) and
// reports, as JSON on stdout: each page's network requests, console errors and page
// errors; saves screenshots of the services page at phone and desktop sizes.
// Usage: node check-site.mjs SITE_DIR SCREENSHOT_DIR   (run by tests/site_browser.rs)
import { chromium } from "playwright-core";
import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const [siteDir, shotDir] = process.argv.slice(2).map((p) => resolve(p));

function pages(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return pages(path);
    return name.endsWith(".html") ? [path] : [];
  });
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const report = [];
for (const file of pages(siteDir).sort()) {
  const page = await browser.newPage();
  const requests = [];
  const errors = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto("file://" + file, { waitUntil: "load" });
  const cookies = await page.context().cookies();
  const h1 = await page.locator("h1").count();
  const images = await page.locator("img:not([alt])").count();
  report.push({ file: file.slice(siteDir.length + 1), requests, errors, cookies: cookies.length, h1, imagesWithoutAlt: images });
  await page.close();
}
for (const [name, width, height] of [["phone", 390, 844], ["desktop", 1280, 900]]) {
  const page = await browser.newPage({ viewport: { width, height } });
  await page.goto("file://" + join(siteDir, "fr/services.html"));
  await page.screenshot({ path: join(shotDir, `services-${name}.png`), fullPage: true });
  await page.close();
}
await browser.close();
console.log(JSON.stringify(report));
