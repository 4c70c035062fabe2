"""Layout checks from element boxes (getBoundingClientRect), for a page at a given viewport width:
panels that overlap, and content that spills out of the panel it belongs to."""

from __future__ import annotations

from playwright.sync_api import Page

# 1 px of slack: boxes are fractional, and a border or a rounding may straddle an edge
SLACK = 1

# Every pair of `panels` (not nested in one another) that overlaps, each as "a overlaps b".
OVERLAPS = """([selector, slack]) => {
  const name = (el) => el.id ? `#${el.id}` : [el.tagName.toLowerCase(), ...el.classList].join(".");
  const shown = [...document.querySelectorAll(selector)].filter((el) => el.getClientRects().length);
  const overlaps = [];
  shown.forEach((a, i) => shown.slice(i + 1).forEach((b) => {
    if (a.contains(b) || b.contains(a)) return;
    const p = a.getBoundingClientRect(), q = b.getBoundingClientRect();
    const x = Math.min(p.right, q.right) - Math.max(p.left, q.left);
    const y = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
    if (x > slack && y > slack) overlaps.push(`${name(a)} overlaps ${name(b)} by ${x.toFixed(0)} × ${y.toFixed(0)} px`);
  }));
  return overlaps;
}"""

# Every card whose content is wider than it (scrollWidth > clientWidth) and the outermost elements whose
# boxes leave their card's; and the page itself when it scrolls sideways.
SPILLS = """([selector, slack]) => {
  const name = (el) => el.id ? `#${el.id}` : [el.tagName.toLowerCase(), ...el.classList].join(".");
  const spills = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + slack) {
    const wide = [...document.body.querySelectorAll("*")].filter((el) => el.getBoundingClientRect().right > root.clientWidth + slack);
    const outermost = wide.filter((el) => !wide.includes(el.parentElement)).map(name);
    spills.push(`the page is ${root.scrollWidth} px wide in ${root.clientWidth}: ${outermost.join(", ")} past its right edge`);
  }
  for (const card of document.querySelectorAll(selector)) {
    if (!card.getClientRects().length) continue;
    if (card.scrollWidth > card.clientWidth + slack) {
      spills.push(`${name(card)}: content ${card.scrollWidth} px wide in ${card.clientWidth}`);
    }
    const box = card.getBoundingClientRect();
    const outside = []; // the outermost elements that leave the card: their contents go with them
    for (const el of card.querySelectorAll("*")) {
      const r = el.getBoundingClientRect();
      if (!r.width || !r.height || outside.some((o) => o.contains(el))) continue;
      if (r.left < box.left - slack || r.right > box.right + slack || r.top < box.top - slack || r.bottom > box.bottom + slack) {
        outside.push(el);
        spills.push(`${name(el)} (${r.left.toFixed(0)}–${r.right.toFixed(0)} px) leaves ${name(card)} (${box.left.toFixed(0)}–${box.right.toFixed(0)} px)`);
      }
    }
  }
  return spills;
}"""


def overlaps(page: Page, panels: str) -> list[str]:
    """Panels (a CSS selector) shown on the page whose boxes overlap."""
    found: list[str] = page.evaluate(OVERLAPS, [panels, SLACK])
    return found


def spills(page: Page, cards: str) -> list[str]:
    """What leaves its card (a CSS selector), and a page wider than the viewport."""
    found: list[str] = page.evaluate(SPILLS, [cards, SLACK])
    return found


def settle(page: Page) -> None:
    """Two animation frames: a resize observed in one is drawn by the next."""
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
