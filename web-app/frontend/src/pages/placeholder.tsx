// Stand-in for a page area not built yet.
export function Placeholder({ name }: { name: string }) {
  return (
    <section class="page">
      <h1>{name}</h1>
    </section>
  );
}
