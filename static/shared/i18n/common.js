export default {
"en": {
  "common.save": "Save",
  "common.cancel": "Cancel",
  "common.language": "Language",
  "common.language_auto": "Browser's language"
},
"pt-BR": {
  "common.save": "Salvar",
  "common.cancel": "Cancelar",
  "common.language": "Idioma",
  "common.language_auto": "Idioma do navegador"
},
"de": {
  "common.save": "Speichern",
  "common.cancel": "Abbrechen",
  "common.language": "Sprache",
  "common.language_auto": "Sprache des Browsers"
},
"es": {
  "common.save": "Guardar",
  "common.cancel": "Cancelar",
  "common.language": "Idioma",
  "common.language_auto": "Idioma del navegador"
},
"ru": {
  "common.save": "Сохранить",
  "common.cancel": "Отмена",
  "common.language": "Язык",
  "common.language_auto": "Язык браузера"
}
};
