import { describe, expect, it } from "vitest";
import { activeToken } from "./Composer";

describe("composer autocomplete", () => {
  it("finds the token being typed before the caret", () => {
    expect(activeToken("hi @al", 6)).toEqual({ trigger: "@", query: "al", start: 3 });
    expect(activeToken("see #gen", 8)).toEqual({ trigger: "#", query: "gen", start: 4 });
    expect(activeToken("yay :smi", 8)).toEqual({ trigger: ":", query: "smi", start: 4 });
    expect(activeToken("@", 1)).toEqual({ trigger: "@", query: "", start: 0 });
  });

  it("ignores addresses, times and a lone colon", () => {
    expect(activeToken("mail a@b", 8)).toBeNull();
    expect(activeToken("at 10:3", 7)).toBeNull();
    expect(activeToken("ok :", 4)).toBeNull();
    expect(activeToken("hi @al and more", 15)).toBeNull();
  });
});
