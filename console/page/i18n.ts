/**
 * The page's words in the pilot's languages. The language comes from the
 * browser (navigator.languages) unless the person picks one; the choice is
 * kept in localStorage. Every language has every key (the type says so).
 */
const en = {
  lookup: "Look up a device",
  screening: "Screen a shipment",
  language: "Language",
  actAs: "Act as",
  imei: "IMEI or IMEISV",
  purpose: "Case reference",
  check: "Check",
  checking: "Asking every registry…",
  verdict: "Verdict",
  device: "Device",
  makeModel: "Make and model",
  findings: "Findings",
  country: "Country",
  status: "Status",
  reason: "Reason",
  reportedAt: "Reported",
  agency: "Reporting agency",
  verified: "Verified report",
  attestation: "Attestation",
  attestationOk: "signature verified",
  attestationBad: "NOT verified",
  notAnswered: "Did not answer",
  why: "Why",
  detail: "Detail",
  noFindings: "No registry lists this device.",
  stale: "from the gateway's cache (registry unreachable)",
  yes: "yes",
  no: "no",
  downloadEvidence: "Download evidence (JSON)",
  print: "Print",
  manifest: "Manifest file (CSV or Excel)",
  declaration: "Declaration reference",
  exporter: "Exporter",
  destination: "Destination country",
  onUnanswered: "If a registry cannot answer",
  hold: "Hold",
  pass: "Pass",
  screen: "Screen",
  progress: "Progress",
  itemsPerSecond: "items/s",
  timeLeft: "left",
  decision: "Decision",
  filter: "Show outcome",
  all: "All",
  item: "Line",
  identifier: "Identifier",
  outcome: "Outcome",
  downloadCsv: "Download signed report (CSV)",
  downloadJson: "Download signed report (JSON)",
  holdBecause: "HOLD because these registries did not answer:",
  findingsOnlyInReport: "more findings are in the report",
  itemsScreened: "items screened",
} as const;

export type MessageKey = keyof typeof en;
type Messages = Record<MessageKey, string>;

const es: Messages = {
  lookup: "Consultar un dispositivo",
  screening: "Inspeccionar un envío",
  language: "Idioma",
  actAs: "Actuar como",
  imei: "IMEI o IMEISV",
  purpose: "Referencia del caso",
  check: "Consultar",
  checking: "Preguntando a todos los registros…",
  verdict: "Veredicto",
  device: "Dispositivo",
  makeModel: "Marca y modelo",
  findings: "Hallazgos",
  country: "País",
  status: "Estado",
  reason: "Motivo",
  reportedAt: "Denunciado",
  agency: "Agencia denunciante",
  verified: "Denuncia verificada",
  attestation: "Atestación",
  attestationOk: "firma verificada",
  attestationBad: "NO verificada",
  notAnswered: "No respondieron",
  why: "Por qué",
  detail: "Detalle",
  noFindings: "Ningún registro incluye este dispositivo.",
  stale: "de la caché de la pasarela (registro inaccesible)",
  yes: "sí",
  no: "no",
  downloadEvidence: "Descargar evidencia (JSON)",
  print: "Imprimir",
  manifest: "Manifiesto (CSV o Excel)",
  declaration: "Referencia de la declaración",
  exporter: "Exportador",
  destination: "País de destino",
  onUnanswered: "Si un registro no responde",
  hold: "Retener",
  pass: "Dejar pasar",
  screen: "Inspeccionar",
  progress: "Progreso",
  itemsPerSecond: "artículos/s",
  timeLeft: "restante",
  decision: "Decisión",
  filter: "Mostrar resultado",
  all: "Todos",
  item: "Línea",
  identifier: "Identificador",
  outcome: "Resultado",
  downloadCsv: "Descargar informe firmado (CSV)",
  downloadJson: "Descargar informe firmado (JSON)",
  holdBecause: "RETENER porque estos registros no respondieron:",
  findingsOnlyInReport: "hallazgos más están en el informe",
  itemsScreened: "artículos inspeccionados",
};

const ptBR: Messages = {
  lookup: "Consultar um aparelho",
  screening: "Inspecionar uma remessa",
  language: "Idioma",
  actAs: "Agir como",
  imei: "IMEI ou IMEISV",
  purpose: "Referência do caso",
  check: "Consultar",
  checking: "Consultando todos os registros…",
  verdict: "Veredito",
  device: "Aparelho",
  makeModel: "Marca e modelo",
  findings: "Ocorrências",
  country: "País",
  status: "Situação",
  reason: "Motivo",
  reportedAt: "Registrado em",
  agency: "Órgão notificante",
  verified: "Registro verificado",
  attestation: "Atestado",
  attestationOk: "assinatura verificada",
  attestationBad: "NÃO verificado",
  notAnswered: "Não responderam",
  why: "Motivo",
  detail: "Detalhe",
  noFindings: "Nenhum registro lista este aparelho.",
  stale: "do cache do gateway (registro inacessível)",
  yes: "sim",
  no: "não",
  downloadEvidence: "Baixar evidência (JSON)",
  print: "Imprimir",
  manifest: "Manifesto (CSV ou Excel)",
  declaration: "Referência da declaração",
  exporter: "Exportador",
  destination: "País de destino",
  onUnanswered: "Se um registro não responder",
  hold: "Reter",
  pass: "Liberar",
  screen: "Inspecionar",
  progress: "Progresso",
  itemsPerSecond: "itens/s",
  timeLeft: "restantes",
  decision: "Decisão",
  filter: "Mostrar resultado",
  all: "Todos",
  item: "Linha",
  identifier: "Identificador",
  outcome: "Resultado",
  downloadCsv: "Baixar relatório assinado (CSV)",
  downloadJson: "Baixar relatório assinado (JSON)",
  holdBecause: "RETER porque estes registros não responderam:",
  findingsOnlyInReport: "ocorrências a mais estão no relatório",
  itemsScreened: "itens inspecionados",
};

const ja: Messages = {
  lookup: "端末の照会",
  screening: "貨物の検査",
  language: "言語",
  actAs: "利用者",
  imei: "IMEI または IMEISV",
  purpose: "事件番号",
  check: "照会",
  checking: "全レジストリに照会中…",
  verdict: "判定",
  device: "端末",
  makeModel: "メーカー・機種",
  findings: "該当情報",
  country: "国",
  status: "状態",
  reason: "理由",
  reportedAt: "届出日",
  agency: "届出機関",
  verified: "確認済みの届出",
  attestation: "証明",
  attestationOk: "署名を確認済み",
  attestationBad: "未確認",
  notAnswered: "応答なし",
  why: "理由",
  detail: "詳細",
  noFindings: "この端末を登録しているレジストリはありません。",
  stale: "ゲートウェイのキャッシュより（レジストリに接続不可）",
  yes: "はい",
  no: "いいえ",
  downloadEvidence: "証拠をダウンロード (JSON)",
  print: "印刷",
  manifest: "積荷目録 (CSV または Excel)",
  declaration: "申告番号",
  exporter: "輸出者",
  destination: "仕向国",
  onUnanswered: "レジストリが応答しない場合",
  hold: "保留",
  pass: "通過",
  screen: "検査",
  progress: "進捗",
  itemsPerSecond: "件/秒",
  timeLeft: "残り",
  decision: "判断",
  filter: "結果で絞り込み",
  all: "すべて",
  item: "行",
  identifier: "識別番号",
  outcome: "結果",
  downloadCsv: "署名付き報告書 (CSV)",
  downloadJson: "署名付き報告書 (JSON)",
  holdBecause: "次のレジストリが応答しなかったため保留：",
  findingsOnlyInReport: "件の追加の該当は報告書に記載",
  itemsScreened: "件検査済み",
};

export const LANGUAGES = { en: "English", es: "Español", "pt-BR": "Português (Brasil)", ja: "日本語" } as const;
export type Language = keyof typeof LANGUAGES;
const MESSAGES: Record<Language, Messages> = { en, es, "pt-BR": ptBR, ja };

/** The browser's first language we speak (pt-* → pt-BR), else English. */
export function preferredLanguage(saved: string | null, browser: readonly string[]): Language {
  if (saved && saved in MESSAGES) return saved as Language;
  for (const tag of browser) {
    const lower = tag.toLowerCase();
    if (lower.startsWith("pt")) return "pt-BR";
    const base = lower.split("-")[0]!;
    if (base === "en" || base === "es" || base === "ja") return base;
  }
  return "en";
}

let current: Language = "en";

export function setLanguage(language: Language): void {
  current = language;
  document.documentElement.lang = language;
}

export function language(): Language {
  return current;
}

/** The current language's word for `key`. */
export function t(key: MessageKey): string {
  return MESSAGES[current][key];
}
