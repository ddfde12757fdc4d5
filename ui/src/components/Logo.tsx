export function Logo({ size = 32 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 64 64" aria-hidden="true" className="logo">
      <rect width="64" height="64" rx="14" fill="var(--accent)" />
      <path d="M22 20h14a10 10 0 0 1 0 20h-6l-8 8v-8a10 10 0 0 1 0-20z" fill="none" stroke="#fff" strokeWidth="5" strokeLinejoin="round" />
      <circle cx="42" cy="30" r="3" fill="#fff" />
    </svg>
  );
}
