/**
 * Real-looking TACs for synthetic pilot data: each is a TAC of the named model
 * as listed in public TAC data. The demo writes them to its TAC CSV, so
 * MODEL_MISMATCH screening works in the pilot.
 */
export interface DemoTac {
  readonly tac: string;
  readonly make: string;
  readonly model: string;
}

export const DEMO_TACS: readonly DemoTac[] = [
  { tac: "35693803", make: "Apple", model: "iPhone 6s" },
  { tac: "35325807", make: "Apple", model: "iPhone 7" },
  { tac: "35391110", make: "Apple", model: "iPhone 12" },
  { tac: "35467810", make: "Apple", model: "iPhone 13" },
  { tac: "35298814", make: "Apple", model: "iPhone 14 Pro" },
  { tac: "35226311", make: "Samsung", model: "Galaxy S21" },
  { tac: "35086573", make: "Samsung", model: "Galaxy S22" },
  { tac: "35291611", make: "Samsung", model: "Galaxy A52" },
  { tac: "35847631", make: "Google", model: "Pixel 7" },
  { tac: "86769204", make: "Xiaomi", model: "Redmi Note 10" },
  { tac: "86123406", make: "Xiaomi", model: "Mi 11" },
  { tac: "86892305", make: "Huawei", model: "P40" },
  { tac: "86440205", make: "OPPO", model: "Find X5" },
  { tac: "35420110", make: "Motorola", model: "Moto G30" },
];
