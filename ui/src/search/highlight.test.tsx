import { describe, expect, it } from "vitest";
import { render } from "@testing-library/react";
import { Highlight, complete, pendingOperator } from "./highlight";

describe("highlights", () => {
  it("renders marks as elements and everything else as text", () => {
    const { container } = render(
      <p>
        <Highlight html="&lt;b&gt;<mark>deploy</mark> &amp; &#39;ship&#39;" />
      </p>,
    );
    expect(container.querySelector("b")).toBeNull();
    expect(container.querySelector("mark")?.textContent).toBe("deploy");
    expect(container.textContent).toBe("<b>deploy & 'ship'");
  });
});

describe("plain text", () => {
  it("drops emphasis marks and shows shortcodes as emoji", () => {
    const { container } = render(
      <p>
        <Highlight html="Hello **Bob**, <mark>glad</mark> you are here :tada: `x`" />
      </p>,
    );
    expect(container.textContent).toBe("Hello Bob, glad you are here 🎉 x");
  });
});

describe("operator completion", () => {
  it("finds the operator being typed", () => {
    expect(pendingOperator("deploy in:#de")).toEqual({ op: "in", prefix: "de" });
    expect(pendingOperator("from:@A")).toEqual({ op: "from", prefix: "a" });
    expect(pendingOperator("from:")).toEqual({ op: "from", prefix: "" });
    expect(pendingOperator("in:#dev deploy")).toBeNull();
    expect(pendingOperator("plain")).toBeNull();
  });
  it("completes it", () => {
    expect(complete("deploy in:#de", "in", "dev")).toBe("deploy in:#dev ");
    expect(complete("from:a", "from", "alice")).toBe("from:@alice ");
  });
});
