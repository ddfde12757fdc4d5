import { Logo } from "./Logo";

export function Splash() {
  return (
    <div className="splash" role="status" aria-label="Loading CoLink">
      <Logo size={48} />
    </div>
  );
}
