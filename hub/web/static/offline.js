// The offline page: retry the hub every 5 s and go back to the app once it answers.
setInterval(async () => {
  try {
    const r = await fetch("/api/v1/health", { cache: "no-store" });
    if (r.ok) location.replace("/");
  } catch { /* still unreachable */ }
}, 5000);
