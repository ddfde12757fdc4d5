import { describe, expect, it } from "vitest";
import { ago, bytes, duration } from "./format";

describe("admin number formats", () => {
  it("sizes in binary units", () => {
    expect(bytes(0)).toBe("0 bytes");
    expect(bytes(1023)).toBe("1023 bytes");
    expect(bytes(1536)).toBe("1.5 KB");
    expect(bytes(250 * 1024 * 1024)).toBe("250 MB");
  });
  it("uptimes", () => {
    expect(duration(59)).toBe("0m");
    expect(duration(3_700)).toBe("1h 1m");
    expect(duration(90_000)).toBe("1d 1h");
  });
  it("last activity", () => {
    const now = Date.parse("2026-12-01T12:00:00Z");
    expect(ago(null, now)).toBe("never");
    expect(ago("2026-12-01T11:59:30Z", now)).toBe("just now");
    expect(ago("2026-12-01T11:55:00Z", now)).toMatch(/5 minutes ago/);
  });
});
