#!/usr/bin/env bash
# Installs what the browser tests (tests/e2e) drive: Debian's Chromium (Playwright
# launches /usr/bin/chromium itself; nothing is downloaded by `playwright install`),
# its WebDriver, and fonts so screenshots are readable. Installs with apt-get when some
# are missing and we are root; otherwise only reports: the browser tests then skip
# locally (and fail in CI).
set -euo pipefail

declare -A PACKAGE=([chromium]=chromium [chromedriver]=chromium-driver)
FONTS=(fonts-dejavu-core fonts-liberation)

missing=()
for tool in "${!PACKAGE[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("${PACKAGE[$tool]}")
done
if command -v dpkg-query >/dev/null 2>&1; then
    for font in "${FONTS[@]}"; do
        dpkg-query -W -f='${Status}' "$font" 2>/dev/null | grep -q "ok installed" \
            || missing+=("$font")
    done
fi
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "browser-deps: missing packages: ${missing[*]}" >&2
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "browser-deps: not root or no apt-get; browser tests will skip" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}
echo "browser-deps: installed ${missing[*]}" >&2
