import { describe, expect, it } from "vitest";
import { render } from "@testing-library/react";
import { Markdown, isJumbo, parseBlocks, safeUrl } from "./markdown";

const html = (text: string, me?: string) => render(<Markdown text={text} me={me} />).container.innerHTML;

describe("markdown", () => {
  it("shows raw HTML as text, never as markup", () => {
    const out = html('<img src=x onerror="alert(1)"><script>alert(2)</script>');
    expect(out).not.toContain("<img");
    expect(out).not.toContain("<script");
    expect(out).toContain("&lt;img");
  });

  it("refuses javascript: links", () => {
    expect(safeUrl("javascript:alert(1)")).toBeNull();
    expect(safeUrl("https://example.com/a?b=1")).toBe("https://example.com/a?b=1");
    const out = html("[click](javascript:alert(1))");
    expect(out).not.toContain("href");
  });

  it("renders emphasis, code and links", () => {
    const out = html("**bold** *it* _it2_ ~~gone~~ `x < y` see https://colink.example/x.");
    expect(out).toContain("<strong>bold</strong>");
    expect(out).toContain("<em>it</em>");
    expect(out).toContain("<em>it2</em>");
    expect(out).toContain("<del>gone</del>");
    expect(out).toContain("<code>x &lt; y</code>");
    expect(out).toContain('href="https://colink.example/x"');
    // the trailing full stop is not part of the link
    expect(out).toContain("</a>.");
  });

  it("keeps snake_case words and file_names intact", () => {
    expect(html("call my_func_name now")).not.toContain("<em>");
  });

  it("parses fenced code blocks without inline formatting inside", () => {
    const blocks = parseBlocks("before\n```rust\nlet x = **y**;\n```\nafter");
    expect(blocks.map((b) => b.kind)).toEqual(["para", "code", "para"]);
    const out = html("```\n**not bold** <b>\n```");
    expect(out).toContain("**not bold** &lt;b&gt;");
    expect(out).not.toContain("<strong>");
  });

  it("groups quotes and lists", () => {
    const blocks = parseBlocks("> a\n> b\n- one\n- two\n1. first");
    expect(blocks).toEqual([
      { kind: "quote", lines: ["a", "b"] },
      { kind: "list", ordered: false, items: ["one", "two"] },
      { kind: "list", ordered: true, items: ["first"] },
    ]);
  });

  it("highlights mentions, the viewer's own more strongly", () => {
    const out = html("hi @alice and @bob, also @channel; mail a@b.c", "alice");
    expect(out).toContain('<span class="mention mention-me">@alice</span>');
    expect(out).toContain('<span class="mention">@bob</span>');
    expect(out).toContain('<span class="mention mention-me">@channel</span>');
    expect(out).not.toContain("@b.c</span>");
  });

  it("turns known shortcodes into emoji and leaves unknown ones", () => {
    const out = html(":tada: :nope_not_one:");
    expect(out).toContain("🎉");
    expect(out).toContain(":nope_not_one:");
    expect(isJumbo(":tada::fire:")).toBe(true);
    expect(isJumbo("🎉 ok")).toBe(false);
  });

  it("links #channels the viewer has, and only those", () => {
    const out = render(<Markdown text="see #general and #nope, not a#b" channelHref={(n) => (n === "general" ? "/w/1/c/2" : undefined)} />).container.innerHTML;
    expect(out).toContain('<a class="channel-link" href="/w/1/c/2">#general</a>');
    expect(out).toContain("#nope");
    expect(out).not.toContain('href="/w/1/c/2">#b');
  });
});
