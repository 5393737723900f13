// A visitor writes in an Etherpad pad with headless Chromium (Debian's package): opens the
// pad over HTTPS, waits for the editor, types a line, waits until Etherpad has stored it
// (the "saved" state of the connection), then reloads the pad and reads the text back.
// Prints JSON on stdout: { typed, readBack, errors }.
// Usage: node pad.mjs URL HOST ADDRESS TEXT   (run by tests/e2e.rs)
//   HOST is mapped to ADDRESS for the browser (the lab's names are not in this machine's
//   DNS). The lab's test CA is not in Chromium's store, so certificate errors are ignored
//   here: the test checks the certificate chain with curl and the CA separately.
import { chromium } from "playwright-core";

const [url, host, address, text] = process.argv.slice(2);

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", `--host-resolver-rules=MAP ${host} ${address}`],
});
const errors = [];
const inner = (page) => page.frameLocator('iframe[name="ace_outer"]').frameLocator('iframe[name="ace_inner"]')
  .locator("#innerdocbody");
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url, { waitUntil: "load", timeout: 60000 });
  const body = inner(page);
  await body.waitFor({ timeout: 60000 });
  await body.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await page.keyboard.type(text, { delay: 20 });
  // Etherpad commits changes to the server every half second; give it time, then check
  // from a new page, which only sees what the server stored.
  await page.waitForTimeout(3000);
  const second = await context.newPage();
  await second.goto(url, { waitUntil: "load", timeout: 60000 });
  const readBack = inner(second);
  await readBack.waitFor({ timeout: 60000 });
  await second.waitForTimeout(1000);
  console.log(JSON.stringify({ typed: text, readBack: (await readBack.innerText()).trim(), errors }));
} catch (e) {
  console.log(JSON.stringify({ typed: text, readBack: null, errors: [...errors, String(e)] }));
} finally {
  await browser.close();
}
